"""Rule train_mil: one MIL model trained on one cross-validation fold, and its test-fold predictions."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.core.labels import ENDPOINTS, OUTPUT_NAMES, SURVIVAL
from slidesnake.core.provenance import provenance_attrs
from slidesnake.evaluation.endpoints import harrell_c, regression_metrics
from slidesnake.evaluation.metrics import classification_metrics
from slidesnake.evaluation.splits import (
    EVENT,
    TEST,
    TIME,
    TRAIN,
    VALIDATION,
    VALUE,
    fold_partitions,
    read_splits,
    splits_sites,
    usable_splits,
)
from slidesnake.io.corrected_labels import read_corrected_labels
from slidesnake.io.feature_file import tile_size_level0
from slidesnake.io.manifest import read_manifest
from slidesnake.io.predictions import endpoint_table, prediction_table, write_predictions
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_scores import write_tile_scores
from slidesnake.mil.correction import SiteStandardisation
from slidesnake.mil.endpoints import Endpoint, predict_endpoint, target_arrays, train_endpoint_fold
from slidesnake.mil.models import score_kinds
from slidesnake.mil.names import SITE_CORRECTION
from slidesnake.mil.params import TrainParams
from slidesnake.mil.train import Bags, instance_targets, predict, save_mil_checkpoint, train_fold

log = logging.getLogger(__name__)


def annotation_targets(
    manifest: dict[str, dict],
    labels: dict[str, int],
    positive: int,
    tumor_threshold: float,
    corrected: dict[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """Instance targets of every slide from its tiles file: annotated tumor tiles (annotated tumor share at
    least `tumor_threshold`) of positive slides 1, every tile of the other slides 0, the rest unlabelled; a slide
    in `corrected` (slide -> its corrected tile labels, rule merge_corrections) takes its annotated tumor from
    there, its confirmed negative tiles 0 and its ignored tiles unlabelled."""
    targets = {}
    for slide, label in labels.items():
        tiles = TileFile.read(manifest[slide]["tiles"])
        if corrected and slide in corrected:
            own = read_corrected_labels(Path(corrected[slide]), slide, tiles.coords)
            tumor = own.tumor >= tumor_threshold
            targets[slide] = instance_targets(tumor, label == positive, own.negative, own.ignored)
            continue
        annotated = tiles.annotated_tumor()
        annotated = np.zeros(len(tiles), bool) if annotated is None else annotated >= tumor_threshold
        targets[slide] = instance_targets(annotated, label == positive)
    return targets


def fold_bags(bags: Bags, params: TrainParams, splits, parts: dict) -> tuple[Bags, SiteStandardisation | None]:
    """The fold's bags after training.batch_correction site (each site standardised with the statistics of its
    training and validation slides; a test site without any, with its own test slides', label-free), and the
    training sites' statistics the checkpoint keeps; other corrections are applied by the model itself."""
    if params.batch_correction != SITE_CORRECTION:
        return bags, None
    sites = splits_sites(splits)
    fitted = SiteStandardisation.fit(bags, parts[TRAIN] + parts[VALIDATION], sites)
    return fitted.covering(bags, parts[TEST], sites).apply(bags, sites), fitted


def target_columns(kind: str) -> tuple[str, ...]:
    """The splits table's target columns of a survival or regression task."""
    return (TIME, EVENT) if kind == SURVIVAL else (VALUE,)


def slide_targets(splits, kind: str) -> dict:
    """slide -> [time, event] (survival) or value (regression), from the splits table."""
    if kind == SURVIVAL:
        return {
            s: [float(t), int(float(e))]
            for s, t, e in zip(splits["slide_id"], splits[TIME], splits[EVENT], strict=True)
        }
    return {s: float(v) for s, v in zip(splits["slide_id"], splits[VALUE], strict=True)}


def run_endpoint(
    task: str,
    spec: dict,
    model_name: str,
    fold: int,
    splits,
    manifest: dict,
    params: TrainParams,
    model_path: Path,
    metrics_path: Path,
    predictions_path: Path,
    tile_scores_path: Path,
) -> dict:
    """A survival or regression task's fold (mil.endpoints): train, select on the validation metric, predict the
    test part; the same files as a classification fold, with one output per slide."""
    endpoint = Endpoint.from_spec(spec)
    parts = fold_partitions(splits, fold)
    targets = slide_targets(splits, endpoint.kind)
    features = {s: row["features"] for s, row in manifest.items()}
    bags, site_standardisation = fold_bags(
        Bags({s: Path(features[s]) for s in splits["slide_id"]}), params, splits, parts
    )
    model, history, scale = train_endpoint_fold(
        model_name,
        bags,
        targets,
        parts[TRAIN],
        parts[VALIDATION],
        endpoint,
        params,
        desc=f"{task} {model_name} fold{fold}",
    )
    test = [s for s in parts[TEST] if len(bags[s][0])]
    outputs, tile_scores = predict_endpoint(model, bags, test, scale, next(model.parameters()).device)
    arrays = target_arrays(endpoint, targets, test)
    if endpoint.kind == SURVIVAL:
        test_metrics = {"n": len(test), "c_index": harrell_c(arrays["time"], arrays["event"], outputs)}
    else:
        test_metrics = {"n": len(test), **regression_metrics(arrays["value"], outputs)}
    metrics = {
        "task": task,
        "model": model_name,
        "fold": fold,
        "type": endpoint.kind,
        "test": test_metrics,
        "history": history,
        "target_scale": list(scale),
        "params": asdict(params),
        "partitions": {k: len(v) for k, v in parts.items()},
    }
    record = {"type": endpoint.kind, "target_scale": list(scale)}
    save_mil_checkpoint(
        model_path,
        model,
        model_name,
        bags.dim(),
        [OUTPUT_NAMES[endpoint.kind]],
        params,
        record,
        site_standardisation,
    )
    rows = splits.set_index("slide_id").loc[test]
    known = {c: rows[c].astype(float).tolist() for c in target_columns(endpoint.kind)}
    write_predictions(
        predictions_path,
        endpoint_table(
            test, rows["patient_id"].tolist(), endpoint.kind, outputs, {"label": rows["label"].tolist(), **known}, fold
        ),
    )
    write_tile_scores(
        tile_scores_path,
        {s: tile_scores[s] for s in test},
        {s: bags[s][1] for s in test},
        {"model": model_name, "task": task, "fold": fold, **provenance_attrs(asdict(params))},
        score_kinds(model_name, endpoint.kind),
        tile_size_level0(features[test[0]]) if test else 0,
    )
    with atomic_output(metrics_path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    log.info("%s %s fold %d: test %s, best epoch %d", task, model_name, fold, test_metrics, history["best_epoch"])
    return metrics


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
    spec: dict | None = None,
    corrected: dict[str, str] | None = None,
) -> dict:
    """Train on the fold's train part, stop early on its validation part, predict its test part (of the slides
    the feature manifest lists as OK: excluded slides are left out of every part); write the
    checkpoint, metrics (with per-epoch history), test predictions and test tile scores. With
    training.instance_weight > 0 the annotated tiles (annotated tumor share >= `tumor_threshold`, pu's) also
    train the tile evidence, from `corrected` (slide -> corrected tile labels) where the pathologist's corrections
    are merged in. A survival or regression task (`spec`, workflow.tasks.task_spec) trains a one-output
    head instead (run_endpoint)."""
    manifest = read_manifest(feature_manifest)
    splits = usable_splits(read_splits(splits_csv), manifest)
    if spec is not None and spec["type"] in ENDPOINTS:
        return run_endpoint(
            task,
            spec,
            model_name,
            fold,
            splits,
            manifest,
            params,
            model_path,
            metrics_path,
            predictions_path,
            tile_scores_path,
        )
    parts = fold_partitions(splits, fold)
    labels = {s: classes.index(label) for s, label in zip(splits["slide_id"], splits["label"], strict=False)}
    features = {s: row["features"] for s, row in manifest.items()}
    bags, site_standardisation = fold_bags(
        Bags({s: Path(features[s]) for s in splits["slide_id"]}), params, splits, parts
    )
    instance_labels = None
    if params.instance_weight > 0:
        training = {s: labels[s] for s in parts[TRAIN] + parts[VALIDATION]}
        instance_labels = annotation_targets(manifest, training, len(classes) - 1, tumor_threshold, corrected)
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
        sites=splits_sites(splits) if params.site_adversary > 0 else None,
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
    save_mil_checkpoint(
        model_path, model, model_name, bags.dim(), classes, params, site_standardisation=site_standardisation
    )
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
