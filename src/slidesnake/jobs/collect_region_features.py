"""Rule collect_region_features: one slide's region features put in place from its shard, or an empty file
marked excluded for a slide it did not process (or that failed there)."""

from __future__ import annotations

from pathlib import Path

from slidesnake.io.feature_file import EMPTY
from slidesnake.io.shard_table import link_from_shard


def run(shard_table: Path, slide_id: str, out: Path, strict: bool) -> None:
    """Link the shard's region-features file of `slide_id` to `out`; an excluded slide (or one that failed
    there, qc.strict false) gets an empty file marked excluded; under `strict` a failed slide fails here."""
    link_from_shard(shard_table, slide_id, out, "region feature extraction", "extract_region_features", EMPTY, strict)
