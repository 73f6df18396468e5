"""Shard tables (`results/features/{encoder}/shards/{shard}.tsv`, `results/tile_classes/{classifier}/shards/...`):
per slide of a shard its outcome (ok / failed), its file in the shard folder (column `output`: features or tile
classes), tile count,
seconds, and the error of a failed slide. A slide fails on the project's named errors (an unusable slide, tile
file or setting) and on OSError (a file that cannot be read); any other exception is a bug and ends the job."""

from __future__ import annotations

import csv
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import SlideError, SlidesnakeError

log = logging.getLogger(__name__)

OUTPUT = "output"  # the slide's file in the shard folder
COLUMNS = ("slide_id", "status", OUTPUT, "tiles", "seconds", "error")
OK, FAILED = "ok", "failed"


def write_shard_table(path: Path, rows: list[dict]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def run_shard(
    slides: dict[str, dict],
    process: Callable[[str, dict], tuple[int, float]],
    output: str,
    shard_table: Path,
    what: str,
) -> list[dict]:
    """Run `process(slide_id, files)` for every slide of a shard: it writes `files[output]` and returns its item
    count and the seconds of its encoding loop. A slide that fails is logged and recorded with its error while
    the others go on. Writes the shard table and returns its rows."""
    rows = []
    for slide_id, files in slides.items():
        try:
            count, seconds = process(slide_id, files)
            rows.append(
                {
                    "slide_id": slide_id,
                    "status": OK,
                    OUTPUT: files[output],
                    "tiles": count,
                    "seconds": seconds,
                    "error": "",
                }
            )
        except (SlidesnakeError, OSError) as error:  # the slide's fault; anything else is a bug and ends the job
            log.error("slide '%s' failed: %s", slide_id, error)
            rows.append(
                {
                    "slide_id": slide_id,
                    "status": FAILED,
                    OUTPUT: "",
                    "tiles": "",
                    "seconds": "",
                    "error": f"{type(error).__name__}: {error}",
                }
            )
    write_shard_table(shard_table, rows)
    failed = [r["slide_id"] for r in rows if r["status"] == FAILED]
    log.info(
        "%s: %d of %d slides done%s",
        what,
        len(rows) - len(failed),
        len(rows),
        f"; failed: {', '.join(failed)}" if failed else "",
    )
    return rows


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
    source = Path(row[OUTPUT])
    if not source.exists():
        raise SlideError(slide_id, f"the shard's file {source} is gone; rerun its shard with --forcerun {rule}")
    with atomic_output(out) as tmp:
        try:
            os.link(source, tmp)
        except OSError:  # another file system
            shutil.copyfile(source, tmp)
