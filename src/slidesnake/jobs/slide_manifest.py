"""Rule slide_manifest: one table listing every slide's files for the cohort-level jobs."""

from __future__ import annotations

import logging
from pathlib import Path

from slidesnake.io.manifest import SLIDE_COLUMNS, write_manifest

log = logging.getLogger(__name__)


def run(rows: list[dict], out: Path) -> None:
    """Write the slide manifest: one row per slide (slidesnake.io.manifest documents the columns)."""
    unknown = {k for row in rows for k in row} - set(SLIDE_COLUMNS)
    if unknown:
        raise ValueError(f"unknown slide manifest columns {sorted(unknown)}")
    write_manifest(out, rows, SLIDE_COLUMNS)
    log.info("%d slides in %s", len(rows), out)
