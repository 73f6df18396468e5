"""HIPT's region grid: mask-aware regions of patches_per_side x patches_per_side patches (4096 px regions
of 256 px patches at the target mpp), with the tissue share of every patch. A region's level-0 side is a whole
number of level-0 patch sides, so its patches tile it exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slidesnake.tissue.tiling import box_coverage

ROW_BLOCK = 64  # regions whose patch coverage is computed at once


@dataclass
class RegionGrid:
    coords: np.ndarray  # N x 2 level-0 top-left corners of the regions
    tissue_fraction: np.ndarray  # N
    patch_tissue: np.ndarray  # N x k x k tissue share of every patch (row, column)
    patch_size0: int  # patch side at level 0
    size0: int  # region side at level 0 (k * patch_size0)
    patches_per_side: int
    grid_shape: tuple[int, int]
    row_col: np.ndarray


def patch_offsets(patches_per_side: int, patch_size0: int) -> np.ndarray:
    """k*k x 2 level-0 offsets of a region's patches from its corner, row-major (y, then x)."""
    steps = np.arange(patches_per_side) * patch_size0
    ys, xs = np.meshgrid(steps, steps, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], 1).astype(np.int64)


def make_region_grid(
    mask: np.ndarray,
    mask_downsample: tuple[float, float],
    level0_size: tuple[int, int],
    mpp0: float,
    patch_px: int,
    patches_per_side: int,
    mpp: float,
    min_tissue: float,
) -> RegionGrid:
    """Regions on a grid from the slide origin whose tissue share reaches `min_tissue`; without slide reads."""
    patch_size0 = int(round(patch_px * mpp / mpp0))
    size0 = patches_per_side * patch_size0
    width, height = level0_size
    xs = np.arange(0, width, size0, dtype=np.int64)
    ys = np.arange(0, height, size0, dtype=np.int64)
    coverage = box_coverage(mask, mask_downsample, xs.astype(np.float64), ys.astype(np.float64), size0)
    rows, cols = np.nonzero(coverage >= min_tissue - 1e-9)
    coords = np.stack([xs[cols], ys[rows]], 1).astype(np.int64)
    patch_tissue = np.zeros((len(coords), patches_per_side, patches_per_side), np.float32)
    offsets = np.arange(patches_per_side) * patch_size0
    for start in range(0, len(coords), ROW_BLOCK):
        for i, (x, y) in enumerate(coords[start : start + ROW_BLOCK], start=start):
            patch_tissue[i] = box_coverage(
                mask, mask_downsample, (x + offsets).astype(np.float64), (y + offsets).astype(np.float64), patch_size0
            )
    return RegionGrid(
        coords,
        coverage[rows, cols].astype(np.float32),
        patch_tissue,
        patch_size0,
        size0,
        patches_per_side,
        (len(ys), len(xs)),
        np.stack([rows, cols], 1).astype(np.int64),
    )
