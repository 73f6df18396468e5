"""Out-of-fold evaluation: slide AUC per model, tumor localisation of tile scores against truth, PU."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from .atomic import atomic_output
from .mil.metrics import classification_metrics
from .tiling import label_fractions, mask_downsample
from .tile_scores import read_tile_scores

log = logging.getLogger(__name__)
TUMOR = 2


def truth_tumor_fraction(truth_png: Path, tiles_h5: Path) -> tuple[np.ndarray, np.ndarray]:
    """Coords and the truth tumor share of each tile (truth mask: 0 background, 1 tissue, 2 tumor)."""
    with h5py.File(tiles_h5, "r") as h5:
        coords = h5["coords"][:]
        size0 = int(h5["coords"].attrs["patch_size_level0"])
        level0 = (int(h5["coords"].attrs["level0_width"]), int(h5["coords"].attrs["level0_height"]))
    truth = cv2.imread(str(truth_png), cv2.IMREAD_GRAYSCALE)
    downsample = mask_downsample(truth.shape, level0, f"truth mask {truth_png}")
    return coords, label_fractions(truth, downsample, coords, size0, (TUMOR,))[:, 0]


def safe_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    return float(roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else None


def rank_normalise(scores: np.ndarray) -> np.ndarray:
    """Scores mapped to (0, 1] by their rank within the slide: comparable across slides."""
    return (np.argsort(np.argsort(scores)) + 1) / len(scores)


def localisation(tile_scores: dict[str, np.ndarray], truth: dict[str, np.ndarray], slides: list[str]) -> dict:
    """Per-slide AUC of tile scores against truth tumor (>= 50% of the tile), mean over tumor slides,
    and the AUC pooled over those slides after ranking scores within each slide."""
    per_slide, pooled_y, pooled_s = {}, [], []
    for slide in slides:
        y = truth[slide] >= 0.5
        if y.any() and not y.all():
            per_slide[slide] = safe_auc(y, tile_scores[slide])
            pooled_y.append(y)
            pooled_s.append(rank_normalise(tile_scores[slide]))
    return {"mean_slide_auc": float(np.mean(list(per_slide.values()))) if per_slide else None,
            "pooled_ranked_auc": safe_auc(np.concatenate(pooled_y), np.concatenate(pooled_s)) if pooled_y else None,
            "slides": len(per_slide)}


def read_scores(paths: list[Path], name: str) -> dict[str, np.ndarray]:
    return {slide: scores for slide, (_, scores) in read_tile_scores(paths, name).items()}


def run_evaluation(task: str, classes: list[str], predictions: dict[str, list[Path]],
                   tile_scores: dict[str, list[Path]], truth_masks: dict[str, Path], tiles: dict[str, Path],
                   pu: dict[str, Path] | None, tumor_threshold: float, out_json: Path, out_md: Path) -> dict:
    truth = {s: truth_tumor_fraction(p, tiles[s])[1] for s, p in truth_masks.items()}
    report = {"task": task, "models": {}, "pu": None}
    positive = classes[-1]
    for model, paths in predictions.items():
        table = pd.concat([pd.read_csv(p) for p in paths])
        y = table["label"].map(classes.index).to_numpy()
        oof = classification_metrics(y, table[[f"prob_{c}" for c in classes]].to_numpy())
        per_fold = [classification_metrics(g["label"].map(classes.index).to_numpy(),
                                           g[[f"prob_{c}" for c in classes]].to_numpy())["auc"]
                    for _, g in table.groupby("fold")]
        per_fold = [a for a in per_fold if a is not None]
        entry = {"oof": oof, "fold_auc_mean": float(np.mean(per_fold)) if per_fold else None,
                 "fold_auc_sd": float(np.std(per_fold)) if per_fold else None}
        if truth:
            scores = read_scores(tile_scores[model], "score")
            tumor_slides = [s for s in table.loc[table["label"] == positive, "slide_id"] if s in truth]
            entry["localisation"] = localisation(scores, truth, tumor_slides)
        report["models"][model] = entry
    if pu:
        slide_scores = pd.read_csv(pu["slide_scores"])
        y = (slide_scores["label"] == positive).to_numpy()
        report["pu"] = {"slide_auc": {m: safe_auc(y, slide_scores[f"{m}_score"].to_numpy()) for m in ("nnpu", "naive")},
                        "prior": json.loads(Path(pu["prior"]).read_text())}
        if truth:
            tiles_y, nnpu, naive, true_u = [], [], [], []
            probabilities = {m: read_scores([pu["tile_scores"]], m) for m in ("nnpu", "naive")}
            for slide in probabilities["nnpu"]:
                if slide not in truth:
                    continue
                tiles_y.append(truth[slide] >= 0.5)
                nnpu.append(probabilities["nnpu"][slide])
                naive.append(probabilities["naive"][slide])
                if slide_scores.set_index("slide_id").loc[slide, "label"] == positive:
                    with h5py.File(tiles[slide], "r") as h5:
                        annotated = h5["annotation_fraction"][:, 2] >= tumor_threshold
                    true_u.append((truth[slide] >= 0.5)[~annotated])
            tiles_y = np.concatenate(tiles_y)
            true_prior = float(np.concatenate(true_u).mean()) if true_u else None
            estimated = report["pu"]["prior"]["mean_estimated_prior"]
            report["pu"].update({
                "tile_auc": {"nnpu": safe_auc(tiles_y, np.concatenate(nnpu)),
                             "naive": safe_auc(tiles_y, np.concatenate(naive))},
                "true_prior_of_unlabeled": true_prior,
                "prior_abs_error": abs(estimated - true_prior) if true_prior is not None else None})
    with atomic_output(out_json) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    with atomic_output(out_md) as tmp:
        tmp.write_text(markdown_report(report))
    log.info("\n%s", markdown_report(report))
    return report


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def markdown_report(report: dict) -> str:
    lines = [f"## Task `{report['task']}` (out of fold)", "",
             "| model | slide AUC (OOF) | fold AUC mean ± sd | balanced acc. | F1 | attention tile AUC (mean per slide) | pooled ranked tile AUC |",
             "|---|---|---|---|---|---|---|"]
    for model, e in report["models"].items():
        loc = e.get("localisation") or {}
        lines.append(f"| {model} | {fmt(e['oof']['auc'])} | {fmt(e['fold_auc_mean'])} ± {fmt(e['fold_auc_sd'])} | "
                     f"{fmt(e['oof']['balanced_accuracy'])} | {fmt(e['oof']['f1'])} | "
                     f"{fmt(loc.get('mean_slide_auc'))} | {fmt(loc.get('pooled_ranked_auc'))} |")
    pu = report.get("pu")
    if pu:
        lines += ["", "| PU tile classifier | tile AUC | slide AUC (top-k mean) |", "|---|---|---|"]
        for mode in ("nnpu", "naive"):
            lines.append(f"| {mode} | {fmt((pu.get('tile_auc') or {}).get(mode))} | {fmt(pu['slide_auc'][mode])} |")
        lines += ["", f"Class prior of the unlabeled tiles: estimated {fmt(pu['prior']['mean_estimated_prior'])} "
                      f"(Elkan-Noto, mean over folds), true {fmt(pu.get('true_prior_of_unlabeled'))}, "
                      f"absolute error {fmt(pu.get('prior_abs_error'))}."]
    return "\n".join(lines) + "\n"
