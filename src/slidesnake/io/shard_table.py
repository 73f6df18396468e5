"""The feature shard table, `results/features/{encoder}/shards/{shard}.tsv`: per slide of a shard its outcome
(ok / failed), its features file in the shard folder, tile count, seconds, and the error of a failed slide."""

from __future__ import annotations

import csv
from pathlib import Path

from slidesnake.core.atomic import atomic_output

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
