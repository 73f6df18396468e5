"""Rule oof_predictions: out-of-fold slide predictions of one task and model, and their patient aggregation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from slidesnake.evaluation.aggregation import write_prediction_tables
from slidesnake.io.predictions import read_predictions


def run(fold_predictions: list[Path], classes: list[str], slide_csv: Path, patient_csv: Path) -> pd.DataFrame:
    """Concatenate every fold's test predictions (each slide is tested once) and aggregate by patient."""
    slides = read_predictions(fold_predictions).sort_values("slide_id")
    write_prediction_tables(slides, classes, slide_csv, patient_csv)
    return slides
