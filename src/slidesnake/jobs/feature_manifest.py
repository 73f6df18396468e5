"""Rule feature_manifest: one table listing every slide's features (and tiles) file of one encoder."""

from __future__ import annotations

import logging
from pathlib import Path

from slidesnake.core.errors import SlidesnakeError
from slidesnake.io.exclusion import OK, STATUS, h5_exclusion, status_cells
from slidesnake.io.feature_file import feature_shape
from slidesnake.io.manifest import FEATURE_COLUMNS, write_manifest

log = logging.getLogger(__name__)


def run(features: dict[str, str], tiles: dict[str, str], out: Path) -> None:
    """Write the feature manifest of the slides in `features` (slide -> features file), with their dimension and
    status (an excluded slide's features file records its exclusion)."""
    rows = [
        {
            "slide_id": s,
            "features": path,
            "tiles": tiles[s],
            "dim": feature_shape(path)[1],
            **status_cells(h5_exclusion(path)),
        }
        for s, path in features.items()
    ]
    dims = {row["dim"] for row in rows if row["dim"]}
    if len(dims) > 1:
        raise SlidesnakeError(
            f"the feature files in {out} differ in dimension {sorted(dims)}: some were made by another "
            "encoder; rerun rule extract_features (--forcerun extract_features)"
        )
    write_manifest(out, rows, FEATURE_COLUMNS)
    log.info("%d feature files in %s, %d excluded", len(rows), out, sum(row[STATUS] != OK for row in rows))
