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

# QuPath review classes (slidesnake.review): name -> RGB colour. The user's corrections come back in the first four
# (CORRECTION_CLASSES); the others name the review project's reference layers, which corrections may carry along.
TUMOR_CLASS, BENIGN_CLASS, ARTEFACT_CLASS, IGNORE_CLASS = "Tumor", "Benign", "Artefact", "Ignore"
TISSUE_CLASS, PU_TUMOR_CLASS, MIL_TUMOR_CLASS, PROPOSED_CLASS = "Tissue", "Tumor (PU)", "Tumor (MIL)", "Label next"
REVIEW_CLASSES = {
    TUMOR_CLASS: (200, 0, 0),
    BENIGN_CLASS: (0, 160, 60),
    ARTEFACT_CLASS: (230, 200, 20),
    IGNORE_CLASS: (160, 160, 160),
    TISSUE_CLASS: (60, 110, 230),
    PU_TUMOR_CLASS: (255, 90, 200),
    MIL_TUMOR_CLASS: (255, 140, 0),
    PROPOSED_CLASS: (0, 220, 220),
}
CORRECTION_CLASSES = (TUMOR_CLASS, BENIGN_CLASS, ARTEFACT_CLASS, IGNORE_CLASS)
REFERENCE_CLASSES = (TISSUE_CLASS, PU_TUMOR_CLASS, MIL_TUMOR_CLASS, PROPOSED_CLASS)
# label values of a corrected annotation mask (results/corrections/{slide}.png): BACKGROUND (nothing said), TUMOR,
# and these two: tissue confirmed benign (a known negative), and regions no training uses (artefact, ignore, conflicts)
CONFIRMED_NEGATIVE, IGNORED = 3, 4
CORRECTED_LABELS = {
    TUMOR_CLASS: TUMOR,
    BENIGN_CLASS: CONFIRMED_NEGATIVE,
    ARTEFACT_CLASS: IGNORED,
    IGNORE_CLASS: IGNORED,
}
# the optional sample-sheet column naming a slide's site (hospital, scanner, batch); the splits table's column of it
SITE_COLUMN = "site"
