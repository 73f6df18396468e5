"""The regions file contract, `results/regions/{slide}.h5`: the tiles file's layout (slidesnake.io.tile_file)
with regions as tiles (`tile_px` = region side at target_mpp, `tile_px_level0` its level-0 side), plus the
dataset `patch_tissue` (N x k x k tissue share of each 256 px patch, row-major) and the attributes of
PatchLayout: `patch_px`, `patch_px_level0` and `patches_per_side`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import h5py
import numpy as np

from slidesnake.io.tile_file import TileFile

PATCH_TISSUE = "patch_tissue"


@dataclass(frozen=True)
class PatchLayout:
    """The patch grid inside every region."""

    patch_px: int  # patch side at the target mpp
    patch_px_level0: int  # patch side in level-0 pixels
    patches_per_side: int  # k: a region is k x k patches

    @classmethod
    def of(cls, regions: TileFile) -> "PatchLayout":
        return cls(**{f.name: int(regions.attrs[f.name]) for f in fields(cls)})


REGION_ATTRIBUTES = tuple(f.name for f in fields(PatchLayout))


def write_region_file(path: Path, regions: TileFile, layout: PatchLayout, patch_tissue: np.ndarray) -> None:
    """`regions` with the tiles file's attributes; the layout's attributes are added to them."""
    TileFile(
        regions.coords,
        {**regions.attrs, **asdict(layout)},
        regions.tissue_fraction,
        regions.grid_row_col,
        regions.annotation_fraction,
    ).write(path, {PATCH_TISSUE: np.asarray(patch_tissue, np.float32)})


def read_patch_tissue(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as h5:
        return h5[PATCH_TISSUE][:]
