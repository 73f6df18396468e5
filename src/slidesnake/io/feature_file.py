"""The features file contract, `results/features/{encoder}/{slide}.h5`: datasets `features` (N x D float32)
and `coords` (N x 2, the tiles file's order, with the tiles file's attributes); file attributes name the
encoder, where its weights came from, its input size and normalisation, the reader and provenance."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.io.tile_file import COORDS

FEATURES = "features"


def write_feature_file(path: str | Path, features: np.ndarray, coords: np.ndarray, tile_attrs: dict,
                       attrs: dict, extra: dict[str, np.ndarray] | None = None) -> None:
    """Write atomically; `extra` datasets (region files' patch tokens) go beside `features`."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        for name, values in (extra or {}).items():
            h5.create_dataset(name, data=values)
        h5.create_dataset(FEATURES, data=np.asarray(features, np.float32))
        dataset = h5.create_dataset(COORDS, data=np.asarray(coords, np.int64).reshape(-1, 2))
        for key, value in tile_attrs.items():
            dataset.attrs[key] = value
        for key, value in attrs.items():
            h5.attrs[key] = value


def read_feature_file(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(features, coords, file attributes)."""
    with h5py.File(path, "r") as h5:
        return h5[FEATURES][:], h5[COORDS][:], dict(h5.attrs)


def feature_shape(path: str | Path) -> tuple[int, int]:
    with h5py.File(path, "r") as h5:
        return tuple(int(n) for n in h5[FEATURES].shape)


def tile_size_level0(path: str | Path) -> int:
    """Level-0 side of the boxes a features file describes (tiles, or HIPT's regions)."""
    with h5py.File(path, "r") as h5:
        return int(h5[COORDS].attrs["tile_px_level0"])
