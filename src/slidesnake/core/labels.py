"""Label values and class conventions, in one place.

Label masks (annotations, demo truth) use the PANDA convention: 0 background, 1 tissue (benign),
2 tumor. A task's classes are listed negative first: the positive class of a binary task is the last.
"""

from __future__ import annotations

BACKGROUND, TISSUE, TUMOR = 0, 1, 2
LABEL_NAMES = ("background", "tissue", "tumor")  # index = label value
POSITIVE_INDEX = -1  # a task's classes are listed negative first: the positive class is the last
TRUTH_TUMOR_SHARE = 0.5  # a tile is truth tumor when at least this share of it is tumor in the truth mask


def positive_class(classes: list[str]) -> str:
    """The class whose probability is a slide's score (binary tasks: the second of two)."""
    return classes[POSITIVE_INDEX]


# task types (workflow/tasks.py checks their targets); survival and regression tasks have one model output
CLASSIFICATION, SURVIVAL, REGRESSION = "classification", "survival", "regression"
ENDPOINTS = (SURVIVAL, REGRESSION)
# what that output is, in prediction tables (io/predictions.py): a log hazard (higher: earlier event), or the value
OUTPUT_NAMES = {SURVIVAL: "risk", REGRESSION: "predicted_value"}

# the optional sample-sheet column naming a slide's site (hospital, scanner, batch); the splits table's column of it
SITE_COLUMN = "site"
