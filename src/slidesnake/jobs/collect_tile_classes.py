"""Rule collect_tile_classes: one slide's tile-class file put in place from its shard, or that slide's failure
named. Runs inside Snakemake (no process start)."""

from __future__ import annotations

from pathlib import Path

from slidesnake.io.shard_table import link_from_shard


def run(shard_table: Path, slide_id: str, out: Path) -> None:
    """Link the shard's tile-class file of `slide_id` to `out`; a slide the shard could not classify fails."""
    link_from_shard(shard_table, slide_id, out, "tile classification", "classify_tiles")
