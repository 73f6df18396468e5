"""Rule train_pu: out-of-fold tile tumor probabilities from partial annotations (nnPU / PNU and the naive
baseline), slide scores, and the class prior estimates."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.core.provenance import provenance_attrs
from slidesnake.evaluation.splits import TEST, TRAIN, VALIDATION, fold_numbers, fold_partitions, read_splits
from slidesnake.io.feature_file import read_feature_file
from slidesnake.io.manifest import read_manifest
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_scores import PU_MODES, write_tile_scores
from slidesnake.pu.learner import elkan_noto_prior, tile_probabilities, top_k_mean, train_tile_classifier
from slidesnake.pu.params import PUParams

log = logging.getLogger(__name__)
MIN_PU_TILES = 5  # per fold, of P and of U
IMPLAUSIBLE_PRIOR = 0.5  # an estimated tumor share of the unannotated tiles above this gets a warning


def load_tiles(feature_path: Path, tiles_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Features, coords and annotated tumor share of one slide's tiles (features and tiles must agree)."""
    features, coords, _ = read_feature_file(feature_path)
    tiles = TileFile.read(tiles_path)
    if not np.array_equal(coords, tiles.coords):
        raise ValueError(f"{feature_path} and {tiles_path} list different tiles")
    return features, coords, tiles.annotated_tumor()


def run(task: str, positive_class: str, splits_csv: Path, feature_manifest: Path, params: PUParams,
        tile_scores_path: Path, slide_scores_path: Path, prior_path: Path) -> dict:
    """For each fold: P = annotated tumor tiles and U = other tiles of positive training slides, N = tiles of
    negative training slides; estimate the prior, train nnPU / PNU and the naive baseline, score test slides."""
    splits = read_splits(splits_csv)
    manifest = read_manifest(feature_manifest)
    data = {s: load_tiles(Path(manifest[s]["features"]), Path(manifest[s]["tiles"])) for s in splits["slide_id"]}
    positive = {s: label == positive_class for s, label in zip(splits["slide_id"], splits["label"])}
    scores, priors, rows = {}, [], []
    for fold in fold_numbers(splits):
        parts = fold_partitions(splits, fold)
        p, u, n = [], [], []
        for s in parts[TRAIN] + parts[VALIDATION]:
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
        if params.prior is None and estimate["prior"] > IMPLAUSIBLE_PRIOR:
            log.warning("%s PU fold %d: the estimated tumor share of unannotated tiles is %.2f, which is rarely "
                        "true; with few annotated tiles (%d here) Elkan-Noto overestimates it and nnPU then ranks "
                        "tiles worse than the naive baseline. Set pu.prior if you know the share.", task, fold,
                        estimate["prior"], len(p))
        priors.append({"fold": fold, "estimated_prior": estimate["prior"], "label_frequency_c":
                       estimate["label_frequency_c"], "prior_used": prior, "n_positive": len(p),
                       "n_unlabeled": len(u), "n_negative": 0 if n is None else len(n)})
        models = {}
        for mode in PU_MODES:
            model, scaler, history = train_tile_classifier(p, u, n, prior, params, mode)
            models[mode] = (model, scaler)
            priors[-1][f"{mode}_steps"] = history["selected_step"]
        labels, patients = splits.set_index("slide_id")["label"], splits.set_index("slide_id")["patient_id"]
        for s in parts[TEST]:
            features = data[s][0]
            scores[s] = {mode: tile_probabilities(m, sc, features) for mode, (m, sc) in models.items()}
            rows.append({"slide_id": s, "patient_id": patients.loc[s], "label": labels.loc[s], "fold": fold,
                         **{f"{mode}_score": top_k_mean(scores[s][mode], params.top_k) for mode in models}})
        log.info("%s PU fold %d: |P|=%d |U|=%d |N|=%d, prior estimate %.3f (used %.3f)", task, fold, len(p), len(u),
                 0 if n is None else len(n), estimate["prior"], prior)
    write_tile_scores(tile_scores_path, scores, {s: data[s][1] for s in scores},
                      {"task": task, "positive_class": positive_class, **provenance_attrs(asdict(params))})
    with atomic_output(slide_scores_path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    summary = {"task": task, "folds": priors,
               "mean_estimated_prior": float(np.mean([p["estimated_prior"] for p in priors]))}
    with atomic_output(prior_path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary
