"""Tile grids from masks: coordinates and per-tile coverage, computed without reading the slide."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from slidesnake.core.errors import ConfigError, InputFileError
from slidesnake.tissue.params import TilingParams

ROW_BLOCK = 1024  # mask rows summed at once: memory stays bounded for large masks


def _interp_columns(cumulative: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation of per-row cumulative sums (rows x (w+1)) at fractional column positions."""
    width = cumulative.shape[1] - 1
    positions = np.clip(positions, 0, width)
    left = np.minimum(np.floor(positions).astype(np.int64), max(width - 1, 0))
    frac = positions - left
    return cumulative[:, left] * (1 - frac) + cumulative[:, np.minimum(left + 1, width)] * frac


def box_coverage(
    mask: np.ndarray, downsample: tuple[float, float], xs: np.ndarray, ys: np.ndarray, size0: float
) -> np.ndarray:
    """Mean of `mask` over every level-0 box (x, y, size0) of the grid xs x ys, as ny x nx.

    The integral of the piecewise-constant mask is piecewise bilinear, so interpolating its
    cumulative sums gives exact coverage for boxes that do not align with mask pixels.
    Area outside the mask counts as 0.
    """
    sx, sy = downsample
    x0, x1 = xs / sx, (xs + size0) / sx
    y0, y1 = ys / sy, (ys + size0) / sy
    h = mask.shape[0]
    # per mask row: coverage of each tile column span
    spans = np.empty((h, len(xs)), np.float64)
    for r in range(0, h, ROW_BLOCK):
        block = mask[r : r + ROW_BLOCK].astype(np.float64)
        cumulative = np.zeros((block.shape[0], block.shape[1] + 1))
        np.cumsum(block, axis=1, out=cumulative[:, 1:])
        spans[r : r + ROW_BLOCK] = _interp_columns(cumulative, x1) - _interp_columns(cumulative, x0)
    down = np.zeros((len(xs), h + 1))
    np.cumsum(spans.T, axis=1, out=down[:, 1:])
    totals = (_interp_columns(down, y1) - _interp_columns(down, y0)).T
    return totals / ((x1 - x0)[None, :] * (y1 - y0)[:, None])


@dataclass
class TileGrid:
    coords: np.ndarray  # N x 2 int64, level-0 x, y of the top-left corner
    tissue_fraction: np.ndarray  # N float32
    size0: int  # tile side at level 0
    stride0: float  # grid step at level 0
    grid_shape: tuple[int, int]  # rows, columns of the full grid before filtering
    row_col: np.ndarray  # N x 2 grid row, column of each kept tile


def level0_tile_size(mpp0: float, params: TilingParams) -> tuple[int, float]:
    """Level-0 tile size and stride for a slide of level-0 resolution `mpp0`."""
    if params.overlap_px >= params.tile_px:
        raise ConfigError("tiling.overlap_px", f"{params.overlap_px} must be smaller than tile_px ({params.tile_px})")
    scale = params.mpp / mpp0
    return int(round(params.tile_px * scale)), (params.tile_px - params.overlap_px) * scale


def grid_axes(level0_size: tuple[int, int], stride0: float) -> tuple[np.ndarray, np.ndarray]:
    """Level-0 x and y of the grid's columns and rows: steps of stride0 from the origin, inside the slide."""
    width, height = level0_size
    xs = np.round(np.arange(0, width, stride0)).astype(np.int64)
    ys = np.round(np.arange(0, height, stride0)).astype(np.int64)
    return xs[xs < width], ys[ys < height]


def make_grid(
    mask: np.ndarray,
    mask_downsample: tuple[float, float],
    level0_size: tuple[int, int],
    mpp0: float,
    params: TilingParams,
) -> TileGrid:
    """Tiles on a regular grid from the slide origin whose tissue fraction reaches `min_tissue`.

    Every tile starts inside the slide; tiles on the right and bottom border may extend past it
    (the outside counts as background and reads as white).
    """
    size0, stride0 = level0_tile_size(mpp0, params)
    xs, ys = grid_axes(level0_size, stride0)
    coverage = box_coverage(mask, mask_downsample, xs.astype(np.float64), ys.astype(np.float64), size0)
    rows, cols = np.nonzero(coverage >= params.min_tissue - 1e-9)
    coords = np.stack([xs[cols], ys[rows]], axis=1).astype(np.int64)
    return TileGrid(
        coords,
        coverage[rows, cols].astype(np.float32),
        size0,
        stride0,
        (len(ys), len(xs)),
        np.stack([rows, cols], axis=1).astype(np.int64),
    )


def imported_grid(
    coords: np.ndarray,
    mask: np.ndarray,
    mask_downsample: tuple[float, float],
    level0_size: tuple[int, int],
    mpp0: float,
    params: TilingParams,
) -> TileGrid:
    """Tiles at given level-0 coordinates (another tool's), all kept, with the configured level-0 side and
    stride, their tissue fraction in the mask, and the nearest cell of the configured grid (identical to
    make_grid's for the coordinates it makes)."""
    size0, stride0 = level0_tile_size(mpp0, params)
    xs, ys = grid_axes(level0_size, stride0)
    coords = np.asarray(coords, np.int64).reshape(-1, 2)
    row_col = np.round(coords[:, ::-1] / stride0).astype(np.int64)
    tissue = tile_coverage(mask, mask_downsample, coords, size0).astype(np.float32)
    return TileGrid(coords, tissue, size0, stride0, (len(ys), len(xs)), row_col)


def tile_coverage(mask: np.ndarray, downsample: tuple[float, float], coords: np.ndarray, size0: int) -> np.ndarray:
    """Mean of `mask` over each level-0 tile (x, y, size0) of `coords` (N)."""
    if not len(coords):
        return np.zeros(0)
    xs, x_index = np.unique(coords[:, 0], return_inverse=True)
    ys, y_index = np.unique(coords[:, 1], return_inverse=True)
    coverage = box_coverage(mask, downsample, xs.astype(np.float64), ys.astype(np.float64), size0)
    return coverage[y_index, x_index]


def label_fractions(
    labels: np.ndarray, label_downsample: tuple[float, float], coords: np.ndarray, size0: int, classes: tuple[int, ...]
) -> np.ndarray:
    """N x len(classes) share of each tile covered by each label value (outside the mask: none)."""
    out = np.zeros((len(coords), len(classes)), np.float32)
    for k, value in enumerate(classes):
        out[:, k] = tile_coverage(labels == value, label_downsample, coords, size0)
    return out


def mask_downsample(
    mask_shape: tuple[int, int], level0_size: tuple[int, int], what: str, tolerance: float = 0.02
) -> tuple[float, float]:
    """Level-0 pixels per mask pixel along x and y; a mask whose aspect does not match is an error."""
    height, width = mask_shape[:2]
    sx, sy = level0_size[0] / width, level0_size[1] / height
    if not math.isclose(sx, sy, rel_tol=tolerance) and abs(sx - sy) > 1.0:
        raise InputFileError(
            what,
            f"{width} x {height} px, which does not match the slide's "
            f"{level0_size[0]} x {level0_size[1]} px (downsample {sx:.2f} along x, {sy:.2f} along y)",
        )
    return sx, sy
