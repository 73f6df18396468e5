"""Rule train_mil: one MIL model trained on one cross-validation fold, and its test-fold predictions."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.core.provenance import provenance_attrs
from slidesnake.evaluation.metrics import classification_metrics
from slidesnake.evaluation.splits import TEST, TRAIN, VALIDATION, fold_partitions, read_splits, usable_splits
from slidesnake.io.feature_file import tile_size_level0
from slidesnake.io.manifest import read_manifest
from slidesnake.io.predictions import prediction_table, write_predictions
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_scores import write_tile_scores
from slidesnake.mil.models import score_kinds
from slidesnake.mil.params import TrainParams
from slidesnake.mil.train import Bags, instance_targets, predict, save_mil_checkpoint, train_fold

log = logging.getLogger(__name__)


def annotation_targets(
    manifest: dict[str, dict], labels: dict[str, int], positive: int, tumor_threshold: float
) -> dict[str, np.ndarray]:
    """Instance targets of every slide from its tiles file: annotated tumor tiles (annotated tumor share at
    least `tumor_threshold`) of positive slides 1, every tile of the other slides 0, the rest unlabelled."""
    targets = {}
    for slide, label in labels.items():
        tiles = TileFile.read(manifest[slide]["tiles"])
        annotated = tiles.annotated_tumor()
        annotated = np.zeros(len(tiles), bool) if annotated is None else annotated >= tumor_threshold
        targets[slide] = instance_targets(annotated, label == positive)
    return targets


def run(
    task: str,
    classes: list[str],
    model_name: str,
    fold: int,
    splits_csv: Path,
    feature_manifest: Path,
    params: TrainParams,
    tumor_threshold: float,
    model_path: Path,
    metrics_path: Path,
    predictions_path: Path,
    tile_scores_path: Path,
) -> dict:
    """Train on the fold's train part, stop early on its validation part, predict its test part (of the slides
    the feature manifest lists as OK: excluded slides are left out of every part); write the
    checkpoint, metrics (with per-epoch history), test predictions and test tile scores. With
    training.instance_weight > 0 the annotated tiles (annotated tumor share >= `tumor_threshold`, pu's) also
    train the tile evidence."""
    manifest = read_manifest(feature_manifest)
    splits = usable_splits(read_splits(splits_csv), manifest)
    parts = fold_partitions(splits, fold)
    labels = {s: classes.index(label) for s, label in zip(splits["slide_id"], splits["label"], strict=False)}
    features = {s: row["features"] for s, row in manifest.items()}
    bags = Bags({s: Path(features[s]) for s in splits["slide_id"]})
    instance_labels = None
    if params.instance_weight > 0:
        training = {s: labels[s] for s in parts[TRAIN] + parts[VALIDATION]}
        instance_labels = annotation_targets(manifest, training, len(classes) - 1, tumor_threshold)
    model, history = train_fold(
        model_name,
        bags,
        labels,
        parts[TRAIN],
        parts[VALIDATION],
        len(classes),
        params,
        desc=f"{task} {model_name} fold{fold}",
        instance_labels=instance_labels,
    )
    test = [s for s in parts[TEST] if len(bags[s][0])]
    probabilities, tile_scores = predict(model, bags, test, next(model.parameters()).device)
    y = np.array([labels[s] for s in test])
    metrics = {
        "task": task,
        "model": model_name,
        "fold": fold,
        "classes": classes,
        "test": classification_metrics(y, probabilities),
        "history": history,
        "params": asdict(params),
        "partitions": {k: len(v) for k, v in parts.items()},
    }
    save_mil_checkpoint(model_path, model, model_name, bags.dim(), classes, params)
    patients = splits.set_index("slide_id")["patient_id"]
    write_predictions(
        predictions_path,
        prediction_table(test, patients.loc[test].tolist(), classes, probabilities, [classes[i] for i in y], fold),
    )
    write_tile_scores(
        tile_scores_path,
        {s: tile_scores[s] for s in test},
        {s: bags[s][1] for s in test},
        {"model": model_name, "task": task, "fold": fold, **provenance_attrs(asdict(params))},
        score_kinds(model_name),
        tile_size_level0(features[test[0]]) if test else 0,
    )
    with atomic_output(metrics_path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    log.info("%s %s fold %d: test %s, best epoch %d", task, model_name, fold, metrics["test"], history["best_epoch"])
    return metrics
