"""Rule collect_region_features: one slide's region features put in place from its shard, or that slide's
failure named. Runs inside Snakemake (no process start)."""

from __future__ import annotations

from pathlib import Path

from slidesnake.io.shard_table import link_from_shard


def run(shard_table: Path, slide_id: str, out: Path) -> None:
    """Link the shard's region-features file of `slide_id` to `out`; a failed slide fails here."""
    link_from_shard(shard_table, slide_id, out, "region feature extraction", "extract_region_features")
