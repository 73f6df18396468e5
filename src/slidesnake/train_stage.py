"""Training stages: splits, one MIL model on one fold, PU learning out of fold."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .atomic import atomic_output
from .mil.metrics import classification_metrics
from .mil.train import Bags, TrainParams, predict, save_checkpoint, train_fold
from .provenance import provenance_attrs
from .pu import PUParams, elkan_noto_prior, tile_probabilities, top_k_mean, train_tile_classifier
from .splits import TEST, TRAIN, VALIDATION, check_no_leakage, patient_folds
from .tile_scores import write_tile_scores

log = logging.getLogger(__name__)
MIN_PU_TILES = 5  # per fold, of P and of U


def run_splits(labels: dict[str, str], patients: dict[str, str], k: int, seed: int, out_csv: Path) -> pd.DataFrame:
    table = pd.DataFrame({"slide_id": list(labels), "patient_id": [patients[s] for s in labels],
                          "label": list(labels.values())})
    splits = patient_folds(table, k, seed)
    check_no_leakage(splits)
    with atomic_output(out_csv) as tmp:
        splits.to_csv(tmp, index=False)
    for fold in range(k):
        counts = splits.groupby(f"fold{fold}").size().to_dict()
        log.info("fold %d: %s slides", fold, counts)
    return splits


def fold_partitions(splits: pd.DataFrame, fold: int) -> dict[str, list[str]]:
    column = splits[f"fold{fold}"]
    return {part: splits.loc[column == part, "slide_id"].tolist() for part in (TRAIN, VALIDATION, TEST)}


def run_train_mil(task: str, classes: list[str], model_name: str, fold: int, splits_csv: Path,
                  feature_paths: dict[str, Path], params: TrainParams, model_path: Path, metrics_path: Path,
                  predictions_path: Path, tile_scores_path: Path) -> dict:
    splits = pd.read_csv(splits_csv, dtype=str)
    parts = fold_partitions(splits, fold)
    labels = {s: classes.index(l) for s, l in zip(splits["slide_id"], splits["label"])}
    bags = Bags({s: feature_paths[s] for s in splits["slide_id"]})
    model, history = train_fold(model_name, bags, labels, parts[TRAIN], parts[VALIDATION], len(classes), params,
                                desc=f"{task} {model_name} fold{fold}")
    test = [s for s in parts[TEST] if len(bags[s][0])]
    probabilities, tile_scores = predict(model, bags, test, next(model.parameters()).device)
    y = np.array([labels[s] for s in test])
    metrics = {"task": task, "model": model_name, "fold": fold, "classes": classes,
               "test": classification_metrics(y, probabilities), "history": history,
               "params": asdict(params), "partitions": {k: len(v) for k, v in parts.items()}}
    save_checkpoint(model_path, model, model_name, bags.dim(), classes, params)
    rows = pd.DataFrame({"slide_id": test, "patient_id": splits.set_index("slide_id").loc[test, "patient_id"].values,
                         "label": [classes[i] for i in y], "fold": fold,
                         **{f"prob_{c}": probabilities[:, i] for i, c in enumerate(classes)},
                         "prediction": [classes[i] for i in probabilities.argmax(1)]})
    with atomic_output(predictions_path) as tmp:
        rows.to_csv(tmp, index=False)
    write_tile_scores(tile_scores_path, {s: {"score": tile_scores[s]} for s in test},
                      {s: bags[s][1] for s in test}, {"model": model_name, "task": task, "fold": fold,
                                                      "score": "attention" if "pool" not in model_name
                                                      else "instance logit", **provenance_attrs(asdict(params))})
    with atomic_output(metrics_path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    log.info("%s %s fold %d: test %s, best epoch %d", task, model_name, fold, metrics["test"], history["best_epoch"])
    return metrics


def load_tiles(feature_path: Path, tiles_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    with h5py.File(feature_path, "r") as f, h5py.File(tiles_path, "r") as t:
        features, coords = f["features"][:], f["coords"][:]
        if not np.array_equal(coords, t["coords"][:]):
            raise ValueError(f"{feature_path} and {tiles_path} list different tiles")
        annotation = t["annotation_fraction"][:, 2] if "annotation_fraction" in t else None
    return features, coords, annotation


def run_pu(task: str, positive_class: str, splits_csv: Path, feature_paths: dict[str, Path],
           tile_paths: dict[str, Path], params: PUParams, tile_scores_path: Path, slide_scores_path: Path,
           prior_path: Path) -> dict:
    """Out-of-fold tile tumor probabilities (nnPU/PNU and the naive baseline) for every slide."""
    splits = pd.read_csv(splits_csv, dtype=str)
    data = {s: load_tiles(feature_paths[s], tile_paths[s]) for s in splits["slide_id"]}
    positive = {s: l == positive_class for s, l in zip(splits["slide_id"], splits["label"])}
    folds = sorted(int(c[4:]) for c in splits.columns if c.startswith("fold"))
    scores, priors, rows = {}, [], []
    for fold in folds:
        parts = fold_partitions(splits, fold)
        training = parts[TRAIN] + parts[VALIDATION]
        p, u, n = [], [], []
        for s in training:
            features, _, annotation = data[s]
            if positive[s]:
                if annotation is None:
                    raise ValueError(f"slide '{s}' is positive but has no annotation mask; PU learning needs "
                                     "partial annotations on positive slides")
                p.append(features[annotation >= params.tumor_threshold])
                u.append(features[annotation < params.tumor_threshold])
            else:
                n.append(features)
        p, u = np.concatenate(p), np.concatenate(u)
        n = np.concatenate(n) if n and params.use_negative_slides else None
        if len(p) < MIN_PU_TILES or len(u) < MIN_PU_TILES:
            raise ValueError(f"PU fold {fold}: {len(p)} annotated tumor tiles (tumor fraction >= "
                             f"{params.tumor_threshold}) and {len(u)} unlabeled tiles; at least {MIN_PU_TILES} of "
                             "each are needed (annotate more tumor, or lower pu.tumor_threshold)")
        estimate = elkan_noto_prior(p, u, seed=params.seed)
        prior = params.prior if params.prior is not None else estimate["prior"]
        priors.append({"fold": fold, "estimated_prior": estimate["prior"], "label_frequency_c":
                       estimate["label_frequency_c"], "prior_used": prior, "n_positive": len(p),
                       "n_unlabeled": len(u), "n_negative": 0 if n is None else len(n)})
        models = {mode: train_tile_classifier(p, u, n, prior, params, mode) for mode in ("nnpu", "naive")}
        for s in parts[TEST]:
            features, coords, _ = data[s]
            scores[s] = {mode: tile_probabilities(m, sc, features) for mode, (m, sc) in models.items()}
            rows.append({"slide_id": s, "label": splits.set_index("slide_id").loc[s, "label"], "fold": fold,
                         **{f"{mode}_score": top_k_mean(scores[s][mode], params.top_k) for mode in models}})
        log.info("%s PU fold %d: |P|=%d |U|=%d |N|=%d, prior estimate %.3f (used %.3f)", task, fold, len(p), len(u),
                 0 if n is None else len(n), estimate["prior"], prior)
    write_tile_scores(tile_scores_path, scores, {s: data[s][1] for s in scores},
                      {"task": task, "positive_class": positive_class, **provenance_attrs(asdict(params))})
    with atomic_output(slide_scores_path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    summary = {"task": task, "folds": priors, "mean_estimated_prior": float(np.mean([p["estimated_prior"] for p in priors]))}
    with atomic_output(prior_path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary
