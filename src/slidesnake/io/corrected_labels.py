"""The corrected tile-label contract, `results/corrections/{slide}.h5` (rule merge_corrections): per tile of the
slide's tiles file (`coords`, the same order) the shares of it that the corrected annotation mask calls tumor,
confirmed negative and ignored (`corrected_fraction`, N x 3 float32, columns FRACTION_LABELS); attribute
`merge_report` (JSON: polygons per class, conflicting polygons, annotated tumor taken back). PU and MIL training
read it in place of the tiles file's annotation fractions when review.corrections is set."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import SlideError
from slidesnake.core.labels import CONFIRMED_NEGATIVE, IGNORED, TUMOR
from slidesnake.io.tile_file import COORDS

FRACTIONS = "corrected_fraction"
FRACTION_LABELS = (TUMOR, CONFIRMED_NEGATIVE, IGNORED)
REPORT = "merge_report"
CONFIRMED_SHARE = 0.5  # a tile is a confirmed negative (or ignored) when at least this share of it is


@dataclass(frozen=True)
class TileLabels:
    tumor: np.ndarray  # annotated tumor share of each tile (compared with pu.tumor_threshold, like the tiles file's)
    negative: np.ndarray  # bool: confirmed negative (benign) tiles, none of them annotated tumor
    ignored: np.ndarray  # bool: tiles no training labels (artefact, ignore, conflicting corrections)


def write_corrected_labels(path: Path, coords: np.ndarray, fractions: np.ndarray, report: dict) -> None:
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset(COORDS, data=coords)
        h5.create_dataset(FRACTIONS, data=np.asarray(fractions, np.float32))
        h5.attrs[REPORT] = json.dumps(report)


def read_corrected_labels(path: Path, slide: str, coords: np.ndarray) -> TileLabels:
    """The corrected labels of a slide's tiles (`coords`: the tiles the features list, which the file must match)."""
    with h5py.File(path, "r") as h5:
        own, fractions = h5[COORDS][:], h5[FRACTIONS][:]
    if not np.array_equal(own, coords):
        raise SlideError(slide, f"{path} lists other tiles than its features; rerun merge_corrections")
    tumor, negative, ignored = fractions.T
    ignored = ignored >= CONFIRMED_SHARE
    return TileLabels(tumor, (negative >= CONFIRMED_SHARE) & (tumor == 0) & ~ignored, ignored)


def merge_report(path: Path) -> dict:
    with h5py.File(path, "r") as h5:
        return json.loads(h5.attrs[REPORT])
