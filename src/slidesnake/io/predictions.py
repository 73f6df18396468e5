"""The slide-predictions contract: a fold's test predictions (`models/.../fold{k}/predictions.csv`), the
out-of-fold and new-slide tables (`predictions/{task}/{model}_oof.csv`, `_new.csv`). One row per slide:
slide_id, patient_id, label and fold (where known), one probability column per class (`prob_{class}`), the
argmax prediction and, on new slides, each fold model's probability of the positive class (`fold{k}_prob_{class}`)
and the ensemble's after the cohort's Platt scaling (`calibrated_prob_{class}`; empty where no map could be fitted).
Survival and regression tasks: one output column in place of the probabilities, `risk` (the log hazard: higher,
earlier event expected) or `predicted_value` (in the target's units), the targets where known (`time`, `event`;
`value`) and, on new slides, each fold model's output (`fold{k}_risk`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.core.labels import OUTPUT_NAMES

PROBABILITY_PREFIX = "prob_"


def probability_column(cls: str, fold: int | None = None) -> str:
    """The column of one class's probability (of one fold's model, on new slides)."""
    column = f"{PROBABILITY_PREFIX}{cls}"
    return column if fold is None else f"fold{fold}_{column}"


def calibrated_column(cls: str) -> str:
    """The column of a new slide's positive-class probability after the cohort's Platt scaling."""
    return f"calibrated_{probability_column(cls)}"


def called_column(cls: str, rule: str) -> str:
    """The column of a new slide's call (1: called `cls`) at an operating-point `rule`'s threshold, chosen on the
    out-of-fold probabilities (evaluation.calibration: youden, target_sensitivity)."""
    return f"called_{cls}_at_{rule}"


def probability_columns(classes: list[str]) -> list[str]:
    return [probability_column(c) for c in classes]


def prediction_table(
    slides: list[str],
    patients: list[str],
    classes: list[str],
    probabilities: np.ndarray,
    labels: list[str] | None = None,
    fold: int | None = None,
) -> pd.DataFrame:
    """One row per slide with its class probabilities (slides x classes) and the argmax prediction."""
    known = {} if labels is None else {"label": labels}
    if fold is not None:
        known["fold"] = fold
    return pd.DataFrame(
        {
            "slide_id": slides,
            "patient_id": patients,
            **known,
            **{column: probabilities[:, i] for i, column in enumerate(probability_columns(classes))},
            "prediction": [classes[i] for i in probabilities.argmax(1)],
        }
    )


def write_predictions(path: str | Path, table: pd.DataFrame) -> None:
    with atomic_output(path) as tmp:
        table.to_csv(tmp, index=False)


def read_predictions(paths: list[str | Path]) -> pd.DataFrame:
    """The rows of one or more prediction tables (a model's folds), in file order."""
    return pd.concat([pd.read_csv(p) for p in paths])


def output_column(kind: str, fold: int | None = None) -> str:
    """The output column of a survival or regression task's table (of one fold's model, on new slides)."""
    column = OUTPUT_NAMES[kind]
    return column if fold is None else f"fold{fold}_{column}"


def endpoint_table(
    slides: list[str],
    patients: list[str],
    kind: str,
    outputs: np.ndarray,
    targets: dict[str, list] | None = None,
    fold: int | None = None,
) -> pd.DataFrame:
    """One row per slide with its model output and, where known, its stratum and targets (`targets`: column ->
    values in slide order, from the splits table)."""
    known = dict(targets or {})
    if fold is not None:
        known["fold"] = fold
    return pd.DataFrame({"slide_id": slides, "patient_id": patients, **known, output_column(kind): outputs})
