"""Rule collect_features: one slide's features file, put in place from its shard (a hard link, so no copy),
or, for a slide its shard did not process or that failed there, an empty features file marked excluded with
the recorded reason (qc.strict: the failure, named)."""

from __future__ import annotations

from pathlib import Path

from slidesnake.io.feature_file import EMPTY
from slidesnake.io.shard_table import link_from_shard


def run(shard_table: Path, slide_id: str, out: Path, strict: bool) -> None:
    """Link the shard's features file of `slide_id` to `out`; a slide the shard excluded (or that failed there,
    qc.strict false) gets an empty features file marked excluded; under `strict` a failed slide fails here."""
    link_from_shard(shard_table, slide_id, out, "feature extraction", "extract_features", EMPTY, strict)
