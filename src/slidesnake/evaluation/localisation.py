"""How well tile scores point at tumor: per-slide and pooled tile AUCs against a truth mask."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.labels import TRUTH_TUMOR_SHARE, TUMOR
from slidesnake.evaluation.metrics import binary_auc, grouped_auc_interval, mean_interval
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_scores import rank_within_slide
from slidesnake.tissue.tiling import label_fractions, mask_downsample


def truth_tumor_fraction(
    truth_png: Path, tiles: TileFile, coords: np.ndarray | None = None, size0: int | None = None
) -> np.ndarray:
    """The truth tumor share of each tile (truth mask with slidesnake.core.labels values, any downsample);
    `coords` and `size0` score other boxes of the same slide (HIPT's regions)."""
    truth = cv2.imread(str(truth_png), cv2.IMREAD_GRAYSCALE)
    downsample = mask_downsample(truth.shape, tiles.level0_size, f"truth mask {truth_png}")
    coords = tiles.coords if coords is None else coords
    return label_fractions(truth, downsample, coords, size0 or tiles.size0, (TUMOR,))[:, 0]


def localisation(tile_scores: dict[str, np.ndarray], truth: dict[str, np.ndarray], slides: list[str]) -> dict:
    """Per-slide AUC of tile scores against truth tumor tiles, their mean over tumor slides, and the AUC
    pooled over those slides after ranking scores within each slide; 95% bootstrap intervals resample slides."""
    per_slide, pooled_y, pooled_s, pooled_slide = {}, [], [], []
    for slide in slides:
        y = truth[slide] >= TRUTH_TUMOR_SHARE
        if y.any() and not y.all():
            per_slide[slide] = binary_auc(y, tile_scores[slide])
            pooled_y.append(y)
            pooled_s.append(rank_within_slide(tile_scores[slide]))
            pooled_slide.append(np.full(len(y), slide))
    if not per_slide:
        return {"mean_slide_auc": None, "pooled_ranked_auc": None, "slides": 0, "per_slide": {}}
    y, s, groups = np.concatenate(pooled_y), np.concatenate(pooled_s), np.concatenate(pooled_slide)
    return {
        "mean_slide_auc": float(np.mean(list(per_slide.values()))),
        "mean_slide_auc_ci": mean_interval(list(per_slide.values())),
        "pooled_ranked_auc": binary_auc(y, s),
        "pooled_ranked_auc_ci": grouped_auc_interval(y, s, groups),
        "slides": len(per_slide),
        "per_slide": per_slide,
    }
