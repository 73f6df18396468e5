"""Tumor masks from tile tumor probabilities: a threshold chosen from the data, and overlap with truth.

A PU classifier's probabilities rank tiles well but are not calibrated (nnPU and the naive baseline both
push Unlabeled tiles towards negative), so 0.5 is the wrong cut. The class prior says what share of the
Unlabeled tiles of tumor slides is tumor; the threshold that calls exactly that share of the training
folds' Unlabeled tiles tumor is the one the data supports, and it is applied to the test slides.
"""

from __future__ import annotations

import numpy as np


def mask_threshold(unlabeled_probabilities: np.ndarray, prior: float) -> float:
    """The probability above which `prior` of the Unlabeled tiles lie (1.0 when the prior is 0)."""
    if prior <= 0 or not len(unlabeled_probabilities):
        return 1.0
    return float(np.quantile(unlabeled_probabilities, 1 - min(prior, 1.0)))


def mask_overlap(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Dice and IoU of two boolean tile masks (1.0 for both when both are empty)."""
    predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
    both, either = float((predicted & truth).sum()), float((predicted | truth).sum())
    total = float(predicted.sum() + truth.sum())
    return {"dice": 1.0 if total == 0 else 2 * both / total, "iou": 1.0 if either == 0 else both / either}


MASK_UPSAMPLE = 4  # label-image pixels per tile side: outlines follow tile edges, not tile centres


def tumor_mask_image(coords: np.ndarray, stride0: float, level0_size: tuple[int, int], called: np.ndarray,
                     ) -> tuple[np.ndarray, float]:
    """A label image of the tile grid (PANDA values: 0 no tile, 1 tissue tile, 2 tumor tile), MASK_UPSAMPLE
    pixels per grid step, and its downsample (level-0 px per pixel). Overlapping tiles: the later one wins."""
    from slidesnake.core.labels import BACKGROUND, TISSUE, TUMOR
    step = stride0 / MASK_UPSAMPLE
    shape = (int(np.ceil(level0_size[1] / step)), int(np.ceil(level0_size[0] / step)))
    image = np.full(shape, BACKGROUND, np.uint8)
    cells = np.round(np.asarray(coords) / step).astype(int)
    for (x, y), tumor in zip(cells, np.asarray(called, bool)):
        image[y:y + MASK_UPSAMPLE, x:x + MASK_UPSAMPLE] = TUMOR if tumor else TISSUE
    return image, step
