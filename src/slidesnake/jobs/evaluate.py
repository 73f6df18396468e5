"""Rule evaluate: out-of-fold evaluation of every model of one task and of PU learning, against truth
masks where the cohort has them (the demo)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.core.labels import TRUTH_TUMOR_SHARE, positive_class
from slidesnake.evaluation.localisation import localisation, truth_tumor_fraction
from slidesnake.evaluation.metrics import classification_metrics, grouped_auc_interval, grouped_interval, safe_auc
from slidesnake.evaluation.report import markdown_report
from slidesnake.io.manifest import read_manifest
from slidesnake.io.predictions import probability_columns, read_predictions
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_scores import (MIL_ATTENTION, MIL_SCORE, PU_MODES, PU_SCORE, read_tile_scores, score_names,
                                      scored_box_size)

log = logging.getLogger(__name__)


def read_scores(paths: list[Path], name: str) -> dict[str, np.ndarray]:
    return {slide: scores for slide, (_, scores) in read_tile_scores(paths, name).items()}


def truth_of_boxes(score_files: list[Path], manifest: dict, tiles: dict, truth: dict[str, np.ndarray]
                   ) -> dict[str, np.ndarray]:
    """Truth tumor shares of the boxes a model scored: its tiles', or, for region models, its regions'."""
    size0 = scored_box_size(score_files[0])
    if size0 is None or all(size0 == tiles[s].size0 for s in truth):
        return truth
    boxes = read_tile_scores(score_files, MIL_SCORE)
    return {s: truth_tumor_fraction(Path(manifest[s]["truth"]), tiles[s], coords, size0)
            for s, (coords, _) in boxes.items() if s in truth}


def model_entry(table: pd.DataFrame, classes: list[str], score_files: list[Path], truth: dict[str, np.ndarray]) -> dict:
    """Out-of-fold metrics of one model, per-fold AUC spread, and localisation on truth tumor slides."""
    columns = probability_columns(classes)
    y, probabilities = table["label"].map(classes.index).to_numpy(), table[columns].to_numpy()
    oof = classification_metrics(y, probabilities)
    oof["auc_ci"] = grouped_interval(lambda rows: classification_metrics(y[rows], probabilities[rows])["auc"],
                                     table["patient_id"].to_numpy())
    per_fold = [classification_metrics(g["label"].map(classes.index).to_numpy(), g[columns].to_numpy())["auc"]
                for _, g in table.groupby("fold")]
    per_fold = [a for a in per_fold if a is not None]
    entry = {"oof": oof, "fold_auc_mean": float(np.mean(per_fold)) if per_fold else None,
             "fold_auc_sd": float(np.std(per_fold)) if per_fold else None}
    if truth:
        tumor_slides = [s for s in table.loc[table["label"] == positive_class(classes), "slide_id"] if s in truth]
        entry["localisation"] = localisation(read_scores(score_files, MIL_SCORE), truth, tumor_slides)
        if MIL_ATTENTION in score_names(score_files[0]):
            entry["attention_localisation"] = localisation(read_scores(score_files, MIL_ATTENTION), truth,
                                                           tumor_slides)
    return entry


def pu_entry(pu: dict[str, Path], positive: str, truth: dict[str, np.ndarray], tiles: dict[str, TileFile],
             tumor_threshold: float) -> dict:
    """Slide AUC of the PU slide scores; with truth, tile AUCs of nnPU and naive and the true prior of U."""
    slide_scores = pd.read_csv(pu["slide_scores"])
    y, patients = (slide_scores["label"] == positive).to_numpy(), slide_scores["patient_id"].to_numpy()
    entry = {"slide_auc": {m: safe_auc(y, slide_scores[f"{m}_score"].to_numpy()) for m in PU_MODES},
             "slide_auc_ci": {m: grouped_auc_interval(y, slide_scores[f"{m}_score"].to_numpy(), patients)
                              for m in PU_MODES},
             "prior": json.loads(Path(pu["prior"]).read_text())}
    if not truth:
        return entry
    labels = slide_scores.set_index("slide_id")["label"]
    probabilities = {m: read_scores([pu["tile_scores"]], m) for m in PU_MODES}
    tiles_y, scored, true_u, tile_slides = [], {m: [] for m in PU_MODES}, [], []
    for slide in probabilities[PU_SCORE]:
        if slide not in truth:
            continue
        is_tumor = truth[slide] >= TRUTH_TUMOR_SHARE
        tiles_y.append(is_tumor)
        tile_slides.append(np.full(len(is_tumor), slide))
        for m in PU_MODES:
            scored[m].append(probabilities[m][slide])
        if labels.loc[slide] == positive:
            true_u.append(is_tumor[~(tiles[slide].annotated_tumor() >= tumor_threshold)])
    tiles_y, tile_slides = np.concatenate(tiles_y), np.concatenate(tile_slides)
    true_prior = float(np.concatenate(true_u).mean()) if true_u else None
    estimated = entry["prior"]["mean_estimated_prior"]
    entry.update({"tile_auc": {m: safe_auc(tiles_y, np.concatenate(scored[m])) for m in PU_MODES},
                  "tile_auc_ci": {m: grouped_auc_interval(tiles_y, np.concatenate(scored[m]), tile_slides, samples=1000)
                                  for m in PU_MODES},
                  "true_prior_of_unlabeled": true_prior,
                  "prior_abs_error": abs(estimated - true_prior) if true_prior is not None else None})
    return entry


def run(task: str, classes: list[str], predictions: dict[str, list[Path]], tile_scores: dict[str, list[Path]],
        slide_manifest: Path, pu: dict[str, Path] | None, tumor_threshold: float, out_json: Path,
        out_md: Path) -> dict:
    """Evaluate every model's out-of-fold predictions (and PU learning when `pu` names its outputs); tile
    scores are compared with the truth masks the slide manifest lists. Writes JSON and Markdown."""
    manifest = read_manifest(slide_manifest)
    tiles = {s: TileFile.read(row["tiles"]) for s, row in manifest.items()}
    truth = {s: truth_tumor_fraction(Path(row["truth"]), tiles[s]) for s, row in manifest.items() if row["truth"]}
    report = {"task": task, "models": {}, "pu": None}
    for model, paths in predictions.items():
        table = read_predictions(paths)
        boxes_truth = truth_of_boxes(tile_scores[model], manifest, tiles, truth) if truth else truth
        report["models"][model] = model_entry(table, classes, tile_scores[model], boxes_truth)
    if pu:
        report["pu"] = pu_entry(pu, positive_class(classes), truth, tiles, tumor_threshold)
    with atomic_output(out_json) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    with atomic_output(out_md) as tmp:
        tmp.write_text(markdown_report(report))
    log.info("\n%s", markdown_report(report))
    return report
