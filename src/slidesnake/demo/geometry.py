"""Slide layout on a coarse grid: tissue islands with holes, tumor regions, artefact shapes."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

GRID = 32  # level-0 pixels per cell of the coarse fields


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-blurred white noise (float32)."""
    noise = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), sigma)
    return (noise - noise.mean()) / (noise.std() + 1e-6)


def add_blob(target: np.ndarray, rng: np.random.Generator, center, radius: float) -> None:
    """Raise `target` to a ragged ellipse field (1 at the centre, 0 on the outline, negative outside),
    computed only in the blob's bounding box so memory does not scale with the slide."""
    radii = radius * rng.uniform(0.7, 1.3, 2)
    harmonics = np.stack([rng.uniform(0.02, 0.12, 5), rng.uniform(0, 2 * np.pi, 5)], axis=1)
    angle = rng.uniform(0, np.pi)
    reach = 1.6 * radii.max() * (1 + harmonics[:, 0].sum())
    x0, x1 = max(0, int(center[0] - reach)), min(target.shape[1], int(center[0] + reach) + 1)
    y0, y1 = max(0, int(center[1] - reach)), min(target.shape[0], int(center[1] + reach) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - np.float32(center[0]), yy - np.float32(center[1])
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    u, v = (c * dx + s * dy) / np.float32(radii[0]), (-s * dx + c * dy) / np.float32(radii[1])
    theta = np.arctan2(v, u)
    wobble = np.ones_like(theta)
    for k, (a, p) in enumerate(harmonics, start=2):
        wobble += np.float32(a) * np.cos(k * theta + np.float32(p))
    field = 1.0 - np.sqrt(u * u + v * v) / wobble
    np.maximum(target[y0:y1, x0:x1], field, out=target[y0:y1, x0:x1])


@dataclass
class SlideLayout:
    """Coarse signed fields (positive inside) for tissue and tumor, plus artefact geometry in level-0 px."""

    width: int
    height: int
    tissue: np.ndarray
    tumor: np.ndarray
    pen_strokes: list = field(default_factory=list)  # (polyline Nx2, thickness, OD rgb)
    folds: list = field(default_factory=list)  # polygon Nx2
    blur_bands: list = field(default_factory=list)  # (axis, start, stop)
    dust: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # x, y, radius


def make_layout(
    rng: np.random.Generator, width: int, height: int, tumor_fraction: float, artefacts: bool
) -> SlideLayout:
    """Draw islands until tissue covers a plausible share, then tumor blobs up to `tumor_fraction` of it."""
    shape = ((height + GRID - 1) // GRID, (width + GRID - 1) // GRID)
    gh, gw = shape
    scale = min(gh, gw)
    tissue = np.full(shape, -1.0, np.float32)
    for _ in range(rng.integers(3, 6)):
        center = (rng.uniform(0.22, 0.78) * gw, rng.uniform(0.22, 0.78) * gh)
        add_blob(tissue, rng, center, rng.uniform(0.09, 0.17) * scale)
    tissue += 0.18 * smooth_noise(rng, shape, max(1.0, scale / 40))
    holes = smooth_noise(rng, shape, max(1.0, scale / 60))
    np.minimum(tissue, np.where(holes > 2.2, (2.2 - holes) * 2, np.float32(1e9)), out=tissue)
    del holes
    tumor = np.full(shape, -1.0, np.float32)
    inside = np.argwhere(tissue > 0.15)
    tissue_cells = max(1, int((tissue > 0).sum()))
    if tumor_fraction > 0 and len(inside):
        target = tumor_fraction * tissue_cells
        for _ in range(50):
            cy, cx = inside[rng.integers(len(inside))]
            area_left = max(target - ((tumor > 0) & (tissue > 0)).sum(), 4.0)
            radius = float(np.clip(np.sqrt(area_left / np.pi) * rng.uniform(0.6, 1.0), 2.0, 0.3 * scale))
            candidate = tumor.copy()
            add_blob(candidate, rng, (cx, cy), radius)
            if ((candidate > 0) & (tissue > 0)).sum() > 1.25 * target and (tumor > 0).any():
                continue
            tumor = candidate
            if ((tumor > 0) & (tissue > 0)).sum() >= target:
                break
        tumor += 0.08 * smooth_noise(rng, shape, max(1.0, scale / 80))
    layout = SlideLayout(width, height, tissue, tumor)
    if artefacts:
        add_artefacts(rng, layout)
    return layout


PEN_COLOURS_OD = {"green": (0.9, 0.25, 0.75), "blue": (0.95, 0.6, 0.15), "black": (1.1, 1.1, 1.1)}


def add_artefacts(rng: np.random.Generator, layout: SlideLayout) -> None:
    """Pen marks, folds, blurred bands and dust, each on a share of slides."""
    w, h = layout.width, layout.height
    if rng.random() < 0.35:
        colour = list(PEN_COLOURS_OD.values())[rng.integers(len(PEN_COLOURS_OD))]
        start = np.array([rng.uniform(0.05, 0.95) * w, rng.uniform(0.02, 0.15) * h])
        steps = rng.normal(0, 0.03 * w, (12, 2)) + np.array([0.02 * w, 0.004 * h])
        stroke = np.cumsum(np.vstack([start, steps]), axis=0).astype(np.int32)
        layout.pen_strokes.append((stroke, int(rng.uniform(0.004, 0.008) * w), colour))
    if rng.random() < 0.3:
        inside = np.argwhere(layout.tissue > 0.3)
        if len(inside):
            cy, cx = (inside[rng.integers(len(inside))] + 0.5) * GRID
            length, thick, angle = rng.uniform(0.08, 0.2) * w, rng.uniform(0.005, 0.012) * w, rng.uniform(0, np.pi)
            box = cv2.boxPoints(((float(cx), float(cy)), (length, thick), np.degrees(angle)))
            layout.folds.append(box.astype(np.int32))
    if rng.random() < 0.3:
        axis = int(rng.integers(2))
        extent = (w, h)[axis]
        start = rng.uniform(0.2, 0.8) * extent
        layout.blur_bands.append((axis, int(start), int(start + rng.uniform(0.03, 0.08) * extent)))
    if rng.random() < 0.5:
        n = rng.integers(5, 40)
        layout.dust = np.column_stack([rng.uniform(0, w, n), rng.uniform(0, h, n), rng.uniform(2, 12, n)])


def field_crop(grid_field: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """Coarse cells that influence a level-0 window (one cell of margin)."""
    gh, gw = grid_field.shape
    i0, j0 = x0 // GRID - 1, y0 // GRID - 1
    i1, j1 = -(-(x0 + w) // GRID) + 1, -(-(y0 + h) // GRID) + 1
    cols = np.clip(np.arange(i0, i1), 0, gw - 1)
    rows = np.clip(np.arange(j0, j1), 0, gh - 1)
    return grid_field[np.ix_(rows, cols)]


def sample_field(grid_field: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """Bilinear level-0 values of a coarse field over a window, continuous across windows."""
    i0, j0 = x0 // GRID - 1, y0 // GRID - 1
    crop = field_crop(grid_field, x0, y0, w, h)
    up = cv2.resize(crop, (crop.shape[1] * GRID, crop.shape[0] * GRID), interpolation=cv2.INTER_LINEAR)
    ox, oy = x0 - i0 * GRID, y0 - j0 * GRID
    return up[oy : oy + h, ox : ox + w]
