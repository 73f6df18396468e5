"""The entries of a task's evaluation report, from tables and scores held in memory: one per MIL model (its
out-of-fold metrics, fold spread, calibration, operating points and localisation against truth) and one for PU
learning."""

from __future__ import annotations

import numpy as np
import pandas as pd

from slidesnake.core.labels import TRUTH_TUMOR_SHARE, positive_class
from slidesnake.evaluation.calibration import (
    CALIBRATION,
    OPERATING_POINTS,
    PLATT,
    TARGET_SENSITIVITY,
    calibration,
    operating_points,
    platt_entry,
)
from slidesnake.evaluation.localisation import localisation
from slidesnake.evaluation.metrics import (
    binary_auc,
    classification_metrics,
    grouped_auc_interval,
    grouped_interval,
    mask_overlap,
    mean_interval,
    slide_auc,
)
from slidesnake.io.exclusion import EXCLUDED, NAMES, STATUS
from slidesnake.io.predictions import probability_column, probability_columns
from slidesnake.io.tile_scores import PU_MASK, PU_MODES, PU_SCORE


def model_entry(
    table: pd.DataFrame,
    classes: list[str],
    truth: dict[str, np.ndarray],
    scores: dict[str, np.ndarray],
    attention: dict[str, np.ndarray] | None = None,
    target_sensitivity: float = TARGET_SENSITIVITY,
) -> dict:
    """Out-of-fold metrics of one model (its predictions table over every fold), the per-fold AUC spread, the
    calibration, operating points and Platt scaling of its positive-class probabilities
    (slidesnake.evaluation.calibration: thresholds and maps chosen per fold on the other folds) and, with truth
    tumor shares of the scored boxes, the localisation of its tile scores (and attention)."""
    columns = probability_columns(classes)
    y, probabilities = table["label"].map(classes.index).to_numpy(), table[columns].to_numpy()
    oof = classification_metrics(y, probabilities)
    patients = table["patient_id"].to_numpy()
    oof["auc_ci"] = grouped_interval(lambda rows: slide_auc(y[rows], probabilities[rows]), patients)
    per_fold = [
        classification_metrics(g["label"].map(classes.index).to_numpy(), g[columns].to_numpy())["auc"]
        for _, g in table.groupby("fold")
    ]
    per_fold = [a for a in per_fold if a is not None]
    positive = positive_class(classes)
    is_positive, score = (table["label"] == positive).to_numpy(), table[probability_column(positive)].to_numpy()
    entry = {
        "oof": oof,
        "fold_auc_mean": float(np.mean(per_fold)) if per_fold else None,
        "fold_auc_sd": float(np.std(per_fold)) if per_fold else None,
        CALIBRATION: calibration(is_positive, score, patients),
        OPERATING_POINTS: operating_points(is_positive, score, table["fold"].to_numpy(), patients, target_sensitivity),
        PLATT: platt_entry(is_positive, score, table["fold"].to_numpy(), patients),
    }
    if truth:
        tumor_slides = [s for s in table.loc[table["label"] == positive, "slide_id"] if s in truth]
        entry["localisation"] = localisation(scores, truth, tumor_slides)
        if attention is not None:
            entry["attention_localisation"] = localisation(attention, truth, tumor_slides)
    return entry


def pu_entry(
    slide_scores: pd.DataFrame,
    prior: dict,
    positive: str,
    truth: dict[str, np.ndarray],
    tile_scores: dict[str, dict[str, np.ndarray]],
    annotated: dict[str, np.ndarray | None],
    tumor_threshold: float,
) -> dict:
    """Slide AUC of the PU slide scores; with truth, tile AUCs of nnPU and naive (`tile_scores`: mode -> slide ->
    scores; PU_MASK -> slide -> the tumor mask) with the masks' Dice and IoU on the tumor slides, and the true
    prior of U (`annotated`: annotated tumor share of each slide's tiles)."""
    y, patients = (slide_scores["label"] == positive).to_numpy(), slide_scores["patient_id"].to_numpy()
    entry = {
        "slide_auc": {m: binary_auc(y, slide_scores[f"{m}_score"].to_numpy()) for m in PU_MODES},
        "slide_auc_ci": {m: grouped_auc_interval(y, slide_scores[f"{m}_score"].to_numpy(), patients) for m in PU_MODES},
        "prior": prior,
    }
    if not truth:
        return entry
    labels = slide_scores.set_index("slide_id")["label"]
    tiles_y, scored, true_u, tile_slides, overlap, benign_called = [], {m: [] for m in PU_MODES}, [], [], {}, []
    for slide in tile_scores[PU_SCORE]:
        if slide not in truth:
            continue
        is_tumor = truth[slide] >= TRUTH_TUMOR_SHARE
        tiles_y.append(is_tumor)
        tile_slides.append(np.full(len(is_tumor), slide))
        for m in PU_MODES:
            scored[m].append(tile_scores[m][slide])
        called = tile_scores[PU_MASK][slide] > 0
        if labels.loc[slide] == positive:
            true_u.append(is_tumor[~(annotated[slide] >= tumor_threshold)])
            overlap[slide] = mask_overlap(called, is_tumor)
        else:
            benign_called.append(float(called.mean()))
    tiles_y, tile_slides = np.concatenate(tiles_y), np.concatenate(tile_slides)
    true_prior = float(np.concatenate(true_u).mean()) if true_u else None
    estimated = prior["mean_estimated_prior"]
    entry.update(
        {
            "tile_auc": {m: binary_auc(tiles_y, np.concatenate(scored[m])) for m in PU_MODES},
            "tile_auc_ci": {
                m: grouped_auc_interval(tiles_y, np.concatenate(scored[m]), tile_slides, samples=1000) for m in PU_MODES
            },
            "true_prior_of_unlabeled": true_prior,
            "mask": {
                "slides": len(overlap),
                **{
                    f"{k}_mean": float(np.mean([o[k] for o in overlap.values()])) if overlap else None
                    for k in ("dice", "iou")
                },
                **{f"{k}_ci": mean_interval([o[k] for o in overlap.values()]) for k in ("dice", "iou")},
                "benign_slides_tiles_called_tumor": float(np.mean(benign_called)) if benign_called else None,
                "per_slide": overlap,
            },
            "prior_abs_error": abs(estimated - true_prior) if true_prior is not None else None,
        }
    )
    return entry


def excluded_entry(qc_rows: dict[str, dict], labels: dict[str, str], classes: list[str]) -> dict:
    """Per class the slides the QC table marks excluded (slide_id, stage, reason, source), and how many of the
    class's slides were evaluated against excluded: {"per_class": {class: {...}}, "slides": [...]}."""
    excluded = {s: row for s, row in qc_rows.items() if row[STATUS] == EXCLUDED and s in labels}
    per_class = {}
    for name in classes:
        members = [s for s, label in labels.items() if label == name]
        gone = [s for s in members if s in excluded]
        per_class[name] = {"slides": len(members), "excluded": len(gone)}
    return {
        "per_class": per_class,
        "slides": [
            {"slide_id": s, "class": labels[s], **{k: row[k] or "" for k in NAMES}} for s, row in excluded.items()
        ],
    }
