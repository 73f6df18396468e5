"""Rule slide_manifest: one table listing every slide's files for the cohort-level jobs."""

from __future__ import annotations

import logging
from pathlib import Path

from slidesnake.io.exclusion import OK, STATUS, h5_exclusion, status_cells
from slidesnake.io.manifest import SLIDE_COLUMNS, write_manifest

log = logging.getLogger(__name__)


def run(rows: list[dict], out: Path) -> None:
    """Write the slide manifest: one row per slide with its status, which its tiles file records (the last
    preparation stage; slidesnake.io.manifest documents the columns)."""
    unknown = {k for row in rows for k in row} - set(SLIDE_COLUMNS)
    if unknown:
        raise ValueError(f"unknown slide manifest columns {sorted(unknown)}")
    rows = [{**row, **status_cells(h5_exclusion(row["tiles"]))} for row in rows]
    write_manifest(out, rows, SLIDE_COLUMNS)
    excluded = [row["slide_id"] for row in rows if row[STATUS] != OK]
    log.info(
        "%d slides in %s, %d excluded%s", len(rows), out, len(excluded), f": {', '.join(excluded)}" if excluded else ""
    )
