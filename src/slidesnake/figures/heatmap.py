"""Tile scores painted at thumbnail resolution, overlaid on a thumbnail read from a pyramid level.

Memory is bounded by the thumbnail (longer side at most `max_side` px), never by the slide.
"""

from __future__ import annotations

import cv2
import numpy as np
from matplotlib import colormaps

from slidesnake.core.labels import TUMOR
from slidesnake.figures.params import HeatmapParams
from slidesnake.figures.qc import GREEN, RED, YELLOW, draw_outline
from slidesnake.io.geojson import feature_collection, mask_polygons
from slidesnake.io.slide import Slide
from slidesnake.io.tile_scores import rank_within_slide

HEATMAP_MAX_SIDE = 2048


def paint_scores(
    coords: np.ndarray,
    scores: np.ndarray,
    size0: int,
    level0_size: tuple[int, int],
    downsample: float,
    smooth_px: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(mean score per pixel, covered mask) at `downsample`; overlapping tiles are averaged. `scores` holds one
    value per tile (N) or one vector (N x C: class probabilities), and the mean has the same trailing shape."""
    width, height = (max(1, round(s / downsample)) for s in level0_size)
    total = np.zeros((height, width, *np.shape(scores)[1:]), np.float32)
    count = np.zeros((height, width), np.float32)
    side = max(1, round(size0 / downsample))
    for (x, y), score in zip(np.round(coords / downsample).astype(int), scores, strict=False):
        total[y : y + side, x : x + side] += score
        count[y : y + side, x : x + side] += 1
    covered = count > 0
    if smooth_px > 0:  # normalised convolution: smooth inside the tissue without bleeding into glass
        total = cv2.GaussianBlur(total, (0, 0), smooth_px)
        count = cv2.GaussianBlur(count, (0, 0), smooth_px)
    count = count.reshape(count.shape + (1,) * (total.ndim - 2))
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 1e-6)
    return mean, covered


def normalise(values: np.ndarray, mode: str) -> np.ndarray:
    """Scores to [0, 1]: "rank" (percentile within the slide, for attention) or "minmax" or "none"."""
    if not len(values) or mode == "none":
        return np.clip(values, 0, 1)
    if mode == "rank":
        return rank_within_slide(values)
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def colour_table(cmap: str) -> np.ndarray:
    """The colour map's 256 entries as uint8 RGB (256 x 3), to colour a score image by table look-up."""
    return (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def overlay(thumbnail: np.ndarray, score: np.ndarray, covered: np.ndarray, cmap: str, alpha: float) -> np.ndarray:
    """Scores in [0, 1] coloured by `cmap` and blended with weight `alpha` over the thumbnail where covered."""
    colours = colour_table(cmap)[np.round(np.clip(score, 0, 1) * 255).astype(np.uint8)]
    blended = cv2.addWeighted(thumbnail, 1 - alpha, colours, alpha, 0)
    return np.where(covered[..., None], blended, thumbnail)


def render_heatmap(
    slide_path,
    coords: np.ndarray,
    scores: np.ndarray,
    size0: int,
    tissue_mask: np.ndarray | None,
    truth: np.ndarray | None,
    annotation: np.ndarray | None,
    params: HeatmapParams,
    normalisation: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(overlay RGB, score map in [0, 1], covered mask, downsample). Outlines: tissue green, truth tumor
    red, annotated tumor yellow (label masks at any resolution)."""
    with Slide(slide_path, require_mpp=False) as slide:
        level0 = slide.dimensions
        thumbnail, downsample = slide.read_thumbnail(HEATMAP_MAX_SIDE)
    score, covered = paint_scores(
        coords, normalise(np.asarray(scores, np.float32), normalisation), size0, level0, downsample, params.smooth_px
    )
    image = overlay(thumbnail, score, covered, params.cmap, params.alpha)
    if tissue_mask is not None:
        image = draw_outline(image, tissue_mask > 0, GREEN, 1)
    if truth is not None:
        image = draw_outline(image, truth == TUMOR, RED, 2)
    if annotation is not None:
        image = draw_outline(image, annotation == TUMOR, YELLOW, 2)
    return image, score, covered, downsample


def high_score_regions(
    score: np.ndarray, covered: np.ndarray, downsample: float, threshold: float, slide_id: str
) -> dict:
    """QuPath GeoJSON of the regions whose (normalised) score reaches `threshold`, level-0 px."""
    polygons = mask_polygons(covered & (score >= threshold), (downsample, downsample))
    return feature_collection(polygons, "Tumor (predicted)", RED, {"slide_id": slide_id, "threshold": threshold})
