"""The regions file contract, `results/regions/{slide}.h5`: the tiles file's layout (slidesnake.io.tile_file)
with regions as tiles (`tile_px` = region side at target_mpp, `tile_px_level0` its level-0 side), plus the
dataset `patch_tissue` (N x k x k tissue share of each 256 px patch, row-major) and the attributes
`patch_px`, `patch_px_level0` and `patches_per_side`."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from slidesnake.io.tile_file import TileFile

PATCH_TISSUE = "patch_tissue"
REGION_ATTRIBUTES = ("patch_px", "patch_px_level0", "patches_per_side")


def write_region_file(path: Path, regions: TileFile, patch_tissue: np.ndarray) -> None:
    missing = [k for k in REGION_ATTRIBUTES if k not in regions.attrs]
    if missing:
        raise ValueError(f"region file attributes missing: {missing}")
    regions.write(path, {PATCH_TISSUE: np.asarray(patch_tissue, np.float32)})


def read_patch_tissue(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as h5:
        return h5[PATCH_TISSUE][:]
