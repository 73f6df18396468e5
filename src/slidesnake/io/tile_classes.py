"""Tile-class files, `results/tile_classes/{classifier}/{slide}.h5`: datasets `coords` (the tiles file's order)
and `probabilities` (N x C); attributes `classes` and the classifier's provenance."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.io.exclusion import h5_exclusion
from slidesnake.io.tile_file import COORDS

PROBABILITIES = "probabilities"
EMPTY = {COORDS: np.zeros((0, 2), np.int64), PROBABILITIES: np.zeros((0, 0), np.float32)}  # an excluded slide's


def write_tile_classes(
    path: Path, coords: np.ndarray, probabilities: np.ndarray, classes: list[str], attrs: dict
) -> None:
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset(COORDS, data=np.asarray(coords, np.int64).reshape(-1, 2))
        h5.create_dataset(PROBABILITIES, data=np.asarray(probabilities, np.float32).reshape(len(coords), len(classes)))
        h5.attrs["classes"] = list(classes)
        for key, value in attrs.items():
            h5.attrs[key] = value


def read_tile_classes(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(coords, probabilities, classes)."""
    with h5py.File(path, "r") as h5:
        return h5[COORDS][:], h5[PROBABILITIES][:], [str(c) for c in h5.attrs["classes"]]


def passed(files: dict[str, str]) -> dict[str, str]:
    """The tile-class files (slide -> file) of the slides that are not excluded (an excluded slide's file has
    no tiles and records why)."""
    return {slide: path for slide, path in files.items() if h5_exclusion(path) is None}
