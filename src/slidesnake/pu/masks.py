"""Tumor masks from tile tumor probabilities, with a threshold chosen from the data.

A PU classifier's probabilities rank tiles well but are not calibrated, so 0.5 is the wrong cut (on the
real-tissue benchmark it calls about twice as many tiles tumor as there are). Two rules use what a fold's
training data say: "dice" picks the threshold that maximises the expected Dice of the Unlabeled tiles of
tumor slides, with the recall measured on the annotated tumor tiles (P), the false-positive rate on the
tiles of negative slides (N) and the class prior weighting the two; "prior" calls exactly the prior's
share of the Unlabeled tiles tumor. The first depends on the prior far less (Elkan-Noto overestimates it),
and reached a Dice within 0.01 of the best fixed threshold chosen with the truth (README).
"""

from __future__ import annotations

import numpy as np

THRESHOLD_GRID = np.linspace(0.005, 0.995, 199)


def dice_threshold(positive_probabilities: np.ndarray, negative_probabilities: np.ndarray, prior: float) -> float:
    """The probability cut that maximises the expected Dice on tiles of which `prior` are tumor, with recall
    from the positive tiles' probabilities and false positives from the negative tiles'."""
    recall = (positive_probabilities[None, :] >= THRESHOLD_GRID[:, None]).mean(1)
    false_positive = (negative_probabilities[None, :] >= THRESHOLD_GRID[:, None]).mean(1)
    true_positive = prior * recall
    dice = 2 * true_positive / (2 * true_positive + (1 - prior) * false_positive + prior * (1 - recall) + 1e-12)
    return float(THRESHOLD_GRID[int(np.argmax(dice))])


def mask_threshold(unlabeled_probabilities: np.ndarray, prior: float) -> float:
    """The probability above which `prior` of the Unlabeled tiles lie (1.0 when the prior is 0)."""
    if prior <= 0 or not len(unlabeled_probabilities):
        return 1.0
    return float(np.quantile(unlabeled_probabilities, 1 - min(prior, 1.0)))


MASK_UPSAMPLE = 4  # label-image pixels per tile side: outlines follow tile edges, not tile centres


def tumor_mask_image(
    coords: np.ndarray,
    stride0: float,
    level0_size: tuple[int, int],
    called: np.ndarray,
) -> tuple[np.ndarray, float]:
    """A label image of the tile grid (PANDA values: 0 no tile, 1 tissue tile, 2 tumor tile), MASK_UPSAMPLE
    pixels per grid step, and its downsample (level-0 px per pixel). Overlapping tiles: the later one wins."""
    from slidesnake.core.labels import BACKGROUND, TISSUE, TUMOR

    step = stride0 / MASK_UPSAMPLE
    shape = (int(np.ceil(level0_size[1] / step)), int(np.ceil(level0_size[0] / step)))
    image = np.full(shape, BACKGROUND, np.uint8)
    cells = np.round(np.asarray(coords) / step).astype(int)
    for (x, y), tumor in zip(cells, np.asarray(called, bool), strict=False):
        image[y : y + MASK_UPSAMPLE, x : x + MASK_UPSAMPLE] = TUMOR if tumor else TISSUE
    return image, step
