"""Slide predictions: out-of-fold for the training cohort, and the fold models (and their ensemble)
deployed to new, unlabelled slides; patient-level aggregation; tile scores for heatmaps."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .atomic import atomic_output
from .mil.train import Bags, load_checkpoint, predict
from .tile_scores import write_tile_scores

log = logging.getLogger(__name__)


def patient_table(slides: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Mean class probabilities over each patient's slides, and the argmax prediction."""
    columns = [f"prob_{c}" for c in classes]
    grouped = slides.groupby("patient_id")
    table = grouped[columns].mean().reset_index()
    table["n_slides"] = grouped.size().values
    if "label" in slides and slides["label"].notna().any():
        table["label"] = grouped["label"].first().values
    table["prediction"] = [classes[i] for i in table[columns].to_numpy().argmax(1)]
    return table


def write_tables(slides: pd.DataFrame, classes: list[str], slide_csv: Path, patient_csv: Path) -> None:
    with atomic_output(slide_csv) as tmp:
        slides.to_csv(tmp, index=False)
    with atomic_output(patient_csv) as tmp:
        patient_table(slides, classes).to_csv(tmp, index=False)


def run_oof(prediction_csvs: list[Path], classes: list[str], slide_csv: Path, patient_csv: Path) -> pd.DataFrame:
    slides = pd.concat([pd.read_csv(p) for p in prediction_csvs]).sort_values("slide_id")
    write_tables(slides, classes, slide_csv, patient_csv)
    return slides


def run_deploy(model_paths: list[Path], feature_paths: dict[str, Path], patients: dict[str, str],
               slide_csv: Path, patient_csv: Path, tile_scores_path: Path) -> pd.DataFrame:
    """Every fold's model on every new slide; the ensemble is the mean of the fold probabilities
    (tile scores: the mean of the folds' scores)."""
    bags = Bags(feature_paths)
    slides = [s for s in feature_paths if len(bags[s][0])]
    skipped = sorted(set(feature_paths) - set(slides))
    if skipped:
        log.warning("no tiles, so no prediction, for: %s", ", ".join(skipped))
    per_fold, scores, classes = [], {s: [] for s in slides}, None
    for fold, path in enumerate(model_paths):
        model, checkpoint = load_checkpoint(path)
        classes = checkpoint["classes"]
        probabilities, tile_scores = predict(model, bags, slides, torch.device("cpu"))
        per_fold.append(probabilities)
        for s in slides:
            scores[s].append(tile_scores[s])
    ensemble = np.mean(per_fold, axis=0)
    table = pd.DataFrame({"slide_id": slides, "patient_id": [patients[s] for s in slides],
                          **{f"prob_{c}": ensemble[:, i] for i, c in enumerate(classes)},
                          "prediction": [classes[i] for i in ensemble.argmax(1)]})
    for fold, probabilities in enumerate(per_fold):
        table[f"fold{fold}_prob_{classes[-1]}"] = probabilities[:, -1]
    write_tables(table, classes, slide_csv, patient_csv)
    write_tile_scores(tile_scores_path, {s: {"score": np.mean(scores[s], axis=0)} for s in slides},
                      {s: bags[s][1] for s in slides}, {"ensemble_of_folds": len(model_paths)})
    log.info("predicted %d new slides with %d fold models", len(slides), len(model_paths))
    return table
