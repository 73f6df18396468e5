"""Rule evaluate: out-of-fold evaluation of every model of one task and of PU learning, against truth
masks where the cohort has them (the demo); slidesnake.evaluation.entries computes the entries."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.core.labels import CLASSIFICATION, ENDPOINTS, OUTPUT_NAMES, positive_class
from slidesnake.evaluation.endpoints import baseline_predictions, endpoint_entry
from slidesnake.evaluation.entries import excluded_entry, model_entry, pu_entry
from slidesnake.evaluation.localisation import truth_tumor_fraction
from slidesnake.evaluation.per_site import SITES, site_entry
from slidesnake.evaluation.report import markdown_report
from slidesnake.evaluation.splits import read_splits, splits_sites
from slidesnake.io.feature_file import read_feature_file
from slidesnake.io.manifest import read_manifest
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.predictions import read_predictions
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_scores import (
    MIL_ATTENTION,
    MIL_SCORE,
    PU_MASK,
    PU_MODES,
    read_tile_scores,
    score_names,
    scored_box_size,
)

log = logging.getLogger(__name__)


def read_scores(paths: list[Path], name: str) -> dict[str, np.ndarray]:
    return {slide: scores for slide, (_, scores) in read_tile_scores(paths, name).items()}


def truth_of_boxes(
    score_files: list[Path], manifest: dict, tiles: dict, truth: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Truth tumor shares of the boxes a model scored: its tiles', or, for region models, its regions'."""
    size0 = scored_box_size(score_files[0])
    if size0 is None or all(size0 == tiles[s].size0 for s in truth):
        return truth
    boxes = read_tile_scores(score_files, MIL_SCORE)
    return {
        s: truth_tumor_fraction(Path(manifest[s]["truth"]), tiles[s], coords, size0)
        for s, (coords, _) in boxes.items()
        if s in truth
    }


BASELINE = "covariate_baseline"  # the entry of the Cox / ridge model on slide covariates in an endpoint report


def slide_covariates(manifest: dict, features: dict[str, str] | None, slides: list[str]):
    """Per slide, log(1 + tile count) and tissue area (mm²), and the mean of its tile features (None without a
    feature manifest)."""
    simple = np.array(
        [
            [np.log1p(TileFile.count(manifest[s]["tiles"])), MaskInfo.read(manifest[s]["mask_info"]).tissue_area_mm2]
            for s in slides
        ]
    )
    if features is None:
        return simple, None
    means = []
    for slide in slides:
        values = read_feature_file(features[slide])[0]
        means.append(values.mean(0) if len(values) else np.zeros(values.shape[1]))
    return simple, np.array(means)


def run_endpoint(
    task: str,
    kind: str,
    predictions: dict[str, list[Path]],
    manifest: dict,
    feature_manifest: Path | None,
    splits_csv: Path,
) -> dict:
    """A survival or regression task's report: each model's out-of-fold C-index (with the log-rank tests of its
    risk groups) or R², Pearson, Spearman and MAE, with patient-bootstrap intervals, beside the covariate baseline
    fitted on the same folds."""
    report = {"task": task, "type": kind, "models": {}, "baseline": None}
    output = OUTPUT_NAMES[kind]
    tables = {model: read_predictions(paths).sort_values("slide_id") for model, paths in predictions.items()}
    for model, table in tables.items():
        report["models"][model] = endpoint_entry(kind, table, output)
    if tables:
        table = next(iter(tables.values())).reset_index(drop=True)
        slides = [s for s in table["slide_id"] if s in manifest]
        table = table[table["slide_id"].isin(slides)].reset_index(drop=True)
        features = None
        if feature_manifest is not None:
            features = {s: row["features"] for s, row in read_manifest(feature_manifest).items()}
        simple, means = slide_covariates(manifest, features, slides)
        targets = {c: table[c].to_numpy(float) for c in ("time", "event", "value") if c in table}
        table[output] = baseline_predictions(kind, simple, means, targets, table["fold"].to_numpy())
        report["baseline"] = {
            "covariates": "log tile count, tissue area, 2 principal components of the slide-mean features",
            **endpoint_entry(kind, table, output),
        }
    return report


def run(
    task: str,
    classes: list[str],
    predictions: dict[str, list[Path]],
    tile_scores: dict[str, list[Path]],
    slide_manifest: Path,
    pu: dict[str, Path] | None,
    tumor_threshold: float,
    out_json: Path,
    out_md: Path,
    qc_table: Path | None = None,
    splits_csv: Path | None = None,
    kind: str = CLASSIFICATION,
    feature_manifest: Path | None = None,
) -> dict:
    """Evaluate every model's out-of-fold predictions (and PU learning when `pu` names its outputs); tile
    scores are compared with the truth masks the slide manifest lists. With the cohort's `qc_table` and the
    task's `splits_csv`, only the slides that passed are evaluated and the excluded ones are listed per class
    with their reasons; where the splits table has sites, each site's AUC per model (evaluation.per_site).
    Writes JSON and Markdown."""
    manifest = read_manifest(slide_manifest)
    excluded = None
    if qc_table is not None:
        passed = read_manifest(qc_table)
        manifest = {s: row for s, row in manifest.items() if s in passed}
        splits = read_splits(splits_csv)
        labels = dict(zip(splits["slide_id"], splits["label"], strict=True))
        excluded = excluded_entry(read_manifest(qc_table, every=True), labels, classes or sorted(set(labels.values())))
    if kind in ENDPOINTS:
        report = run_endpoint(task, kind, predictions, manifest, feature_manifest, splits_csv)
        report["excluded"] = excluded
        return write_report(report, out_json, out_md)
    tiles = {s: TileFile.read(row["tiles"]) for s, row in manifest.items()}
    truth = {s: truth_tumor_fraction(Path(row["truth"]), tiles[s]) for s, row in manifest.items() if row["truth"]}
    report = {"task": task, "models": {}, "pu": None, "excluded": excluded}
    tables = {model: read_predictions(paths) for model, paths in predictions.items()}
    for model, table in tables.items():
        files = tile_scores[model]
        boxes_truth = truth_of_boxes(files, manifest, tiles, truth) if truth else truth
        scores = read_scores(files, MIL_SCORE) if boxes_truth else {}
        attention = (
            read_scores(files, MIL_ATTENTION) if boxes_truth and MIL_ATTENTION in score_names(files[0]) else None
        )
        report["models"][model] = model_entry(table, classes, boxes_truth, scores, attention)
    report[SITES] = (
        site_entry(tables, classes, splits_sites(read_splits(splits_csv))) if splits_csv is not None else None
    )
    if pu:
        pu_scores = {m: read_scores([pu["tile_scores"]], m) for m in (*PU_MODES, PU_MASK)} if truth else {}
        report["pu"] = pu_entry(
            pd.read_csv(pu["slide_scores"]),
            json.loads(Path(pu["prior"]).read_text()),
            positive_class(classes),
            truth,
            pu_scores,
            {s: t.annotated_tumor() for s, t in tiles.items()},
            tumor_threshold,
        )
    return write_report(report, out_json, out_md)


def write_report(report: dict, out_json: Path, out_md: Path) -> dict:
    with atomic_output(out_json) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    with atomic_output(out_md) as tmp:
        tmp.write_text(markdown_report(report))
    log.info("\n%s", markdown_report(report))
    return report
