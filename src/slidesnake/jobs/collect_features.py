"""Rule collect_features: one slide's features file, put in place from its shard (a hard link, so no copy),
or that slide's failure, named with the error its shard recorded. Runs inside Snakemake (no process start)."""

from __future__ import annotations

from pathlib import Path

from slidesnake.io.shard_table import link_from_shard


def run(shard_table: Path, slide_id: str, out: Path) -> None:
    """Link the shard's features file of `slide_id` to `out`; a slide the shard could not encode fails here."""
    link_from_shard(shard_table, slide_id, out, "feature extraction", "extract_features")
