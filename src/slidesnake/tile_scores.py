"""Tile-score files: one HDF5 group per slide with its coords and one dataset per score name."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .atomic import atomic_output


def write_tile_scores(path: Path, scores: dict[str, dict[str, np.ndarray]], coords: dict[str, np.ndarray],
                      attrs: dict) -> None:
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        for key, value in attrs.items():
            h5.attrs[key] = value
        for slide, named in scores.items():
            group = h5.create_group(slide)
            group.create_dataset("coords", data=coords[slide])
            for name, values in named.items():
                group.create_dataset(name, data=np.asarray(values, np.float32))


def read_tile_scores(paths: list[Path], name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """slide -> (coords, scores `name`) from one or more tile-score files."""
    found = {}
    for path in paths:
        with h5py.File(path, "r") as h5:
            for slide in h5:
                found[slide] = (h5[slide]["coords"][:], h5[slide][name][:])
    return found
