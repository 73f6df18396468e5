"""Slide predictions aggregated to patients, and the prediction tables the workflow writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from slidesnake.core.labels import OUTPUT_NAMES
from slidesnake.evaluation.splits import EVENT, TIME, VALUE
from slidesnake.io.predictions import probability_columns, write_predictions


def endpoint_patient_table(slides: pd.DataFrame) -> pd.DataFrame:
    """A survival or regression table by patient: the mean output (and fold outputs) over each patient's slides,
    with the patient's targets (its first slide's)."""
    outputs = [c for c in slides.columns if any(c.endswith(name) for name in OUTPUT_NAMES.values())]
    grouped = slides.groupby("patient_id")
    table = grouped[outputs].mean().reset_index()
    table["n_slides"] = grouped.size().values
    for column in ("label", TIME, EVENT, VALUE):
        if column in slides:
            table[column] = grouped[column].first().values
    return table


def patient_table(slides: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Mean class probabilities over each patient's slides, and the argmax prediction (no classes: a survival or
    regression table, endpoint_patient_table)."""
    if not classes:
        return endpoint_patient_table(slides)
    columns = probability_columns(classes)
    grouped = slides.groupby("patient_id")
    table = grouped[columns].mean().reset_index()
    table["n_slides"] = grouped.size().values
    if "label" in slides and slides["label"].notna().any():
        table["label"] = grouped["label"].first().values
    table["prediction"] = [classes[i] for i in table[columns].to_numpy().argmax(1)]
    return table


def write_prediction_tables(slides: pd.DataFrame, classes: list[str], slide_csv: Path, patient_csv: Path) -> None:
    write_predictions(slide_csv, slides)
    write_predictions(patient_csv, patient_table(slides, classes))
