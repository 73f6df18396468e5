"""Shard tables (`results/features/{encoder}/shards/{shard}.tsv`, `results/tile_classes/{classifier}/shards/...`):
per slide of a shard its outcome (ok / failed), its file in the shard folder (column `features`), tile count,
seconds, and the error of a failed slide."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import SlideError

COLUMNS = ("slide_id", "status", "features", "tiles", "seconds", "error")
OK, FAILED = "ok", "failed"


def write_shard_table(path: Path, rows: list[dict]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_shard_table(path: Path) -> dict[str, dict]:
    with open(path, newline="") as handle:
        return {row["slide_id"]: row for row in csv.DictReader(handle, delimiter="\t")}


def link_from_shard(shard_table: Path, slide_id: str, out: Path, what: str, rule: str) -> None:
    """Put a slide's file from its shard at `out` (a hard link, else a copy), atomically; a slide its shard
    recorded as failed raises a SlideError with the recorded error."""
    row = read_shard_table(shard_table).get(slide_id)
    if row is None:
        raise SlideError(slide_id, f"not in its shard {shard_table}")
    if row["status"] == FAILED:
        raise SlideError(slide_id, f"{what} failed: {row['error']}")
    source = Path(row["features"])
    if not source.exists():
        raise SlideError(slide_id, f"the shard's file {source} is gone; rerun its shard with --forcerun {rule}")
    with atomic_output(out) as tmp:
        try:
            os.link(source, tmp)
        except OSError:  # another file system
            shutil.copyfile(source, tmp)
