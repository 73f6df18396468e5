"""Rule collect_tile_classes: one slide's tile-class file put in place from its shard, or an empty file marked
excluded for a slide it did not process."""

from __future__ import annotations

from pathlib import Path

from slidesnake.io.shard_table import link_from_shard
from slidesnake.io.tile_classes import EMPTY


def run(shard_table: Path, slide_id: str, out: Path, strict: bool) -> None:
    """Link the shard's tile-class file of `slide_id` to `out`; an excluded slide (or one that failed there,
    qc.strict false) gets an empty file marked excluded; under `strict` a failed slide fails here."""
    link_from_shard(shard_table, slide_id, out, "tile classification", "classify_tiles", EMPTY, strict)
