"""Shard tables (`results/features/{encoder}/shards/{shard}.tsv`, `results/tile_classes/{classifier}/shards/...`):
per slide of a shard its outcome (ok / failed / excluded), its file in the shard folder (column `output`: features
or tile classes), tile count, seconds, the error of a failed slide, and the exclusion (stage, reason, source) of a
slide that is not OK. A slide whose tiles (or regions) file records an exclusion is not processed: it is excluded
with that record. A slide fails on the project's named errors (an unusable slide, tile file or setting) and on
OSError (a file that cannot be read), recorded as an exclusion at the shard's stage with reason "<what>: <error>";
any other exception is a bug and ends the job. The collect jobs then put each OK slide's file in place and write
the others a valid empty file marked excluded (qc.strict: a failed slide fails its collect job instead)."""

from __future__ import annotations

import csv
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import SlideError, SlidesnakeError
from slidesnake.io.exclusion import (
    EXCLUDED,
    NAMES,
    OK,
    SOURCE,
    STATUS,
    Exclusion,
    h5_exclusion,
    status_cells,
    write_excluded_h5,
)

log = logging.getLogger(__name__)

OUTPUT = "output"  # the slide's file in the shard folder
COLUMNS = ("slide_id", STATUS, OUTPUT, "tiles", "seconds", "error", *NAMES)
FAILED = "failed"


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
    reads: str,
    stage: str,
) -> list[dict]:
    """Run `process(slide_id, files)` for every slide of a shard whose `files[reads]` (tiles or regions file)
    records no exclusion: it writes `files[output]` and returns its item count and the seconds of its encoding
    loop. A slide that fails is logged and recorded with its error (an exclusion at `stage`) while the others go
    on. Writes the shard table and returns its rows."""
    rows = []
    for slide_id, files in slides.items():
        excluded = h5_exclusion(files[reads])
        if excluded is not None:
            log.info("slide '%s': excluded at %s (%s), not processed", slide_id, excluded.stage, excluded.reason)
            rows.append({"slide_id": slide_id, OUTPUT: "", "tiles": 0, "seconds": "", "error": "", **excluded.attrs()})
            continue
        try:
            count, seconds = process(slide_id, files)
            rows.append(
                {
                    "slide_id": slide_id,
                    OUTPUT: files[output],
                    "tiles": count,
                    "seconds": seconds,
                    "error": "",
                    **status_cells(None),
                }
            )
        except (SlidesnakeError, OSError) as error:  # the slide's fault; anything else is a bug and ends the job
            log.error("slide '%s' failed: %s", slide_id, error)
            message = f"{type(error).__name__}: {error}"
            exclusion = Exclusion(stage, f"{what}: {message}", files.get(SOURCE, files["slide"]))
            rows.append(
                {
                    "slide_id": slide_id,
                    OUTPUT: "",
                    "tiles": "",
                    "seconds": "",
                    "error": message,
                    **exclusion.attrs(),
                    STATUS: FAILED,
                }
            )
    write_shard_table(shard_table, rows)
    failed = [r["slide_id"] for r in rows if r[STATUS] == FAILED]
    excluded = [r["slide_id"] for r in rows if r[STATUS] == EXCLUDED]
    log.info(
        "%s: %d of %d slides done%s%s",
        what,
        len(rows) - len(failed) - len(excluded),
        len(rows),
        f"; failed: {', '.join(failed)}" if failed else "",
        f"; excluded before: {', '.join(excluded)}" if excluded else "",
    )
    return rows


def read_shard_table(path: Path) -> dict[str, dict]:
    with open(path, newline="") as handle:
        return {row["slide_id"]: row for row in csv.DictReader(handle, delimiter="\t")}


def link_from_shard(
    shard_table: Path, slide_id: str, out: Path, what: str, rule: str, empty: dict, strict: bool
) -> Exclusion | None:
    """Put a slide's file from its shard at `out` (a hard link, else a copy), atomically. A slide its shard did
    not process gets a valid file of the `empty` datasets marked with its exclusion (returned); one that failed
    there raises a SlideError with the recorded error under `strict` (qc.strict) and is excluded otherwise."""
    row = read_shard_table(shard_table).get(slide_id)
    if row is None:
        raise SlideError(slide_id, f"not in its shard {shard_table}")
    if row[STATUS] == FAILED and strict:
        raise SlideError(slide_id, f"{what} failed: {row['error']}")
    if row[STATUS] != OK:
        exclusion = Exclusion(**{name: row[name] for name in NAMES})
        exclusion.warn(slide_id)
        from slidesnake.io.tile_file import SLIDE_ID  # here: the collect rules import this module at DAG time

        write_excluded_h5(out, exclusion, empty, {SLIDE_ID: slide_id})
        return exclusion
    source = Path(row[OUTPUT])
    if not source.exists():
        raise SlideError(slide_id, f"the shard's file {source} is gone; rerun its shard with --forcerun {rule}")
    with atomic_output(out) as tmp:
        try:
            os.link(source, tmp)
        except OSError:  # another file system
            shutil.copyfile(source, tmp)
    return None
