"""PU learning across the cross-validation folds of a task, on tiles held in memory: per fold P = annotated
tumor tiles and U = the other tiles of the positive training slides, N = tiles of the negative ones; the class
prior estimated (Elkan-Noto) or given, nnPU / PNU and the naive baseline trained, the test slides scored."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from slidesnake.core.errors import ConfigError, SlideError
from slidesnake.evaluation.splits import TEST, TRAIN, VALIDATION, fold_numbers, fold_partitions
from slidesnake.io.tile_scores import PU_MASK, PU_MODES, PU_SCORE
from slidesnake.pu.learner import elkan_noto_prior, tile_probabilities, top_k_mean, train_tile_classifier
from slidesnake.pu.masks import dice_threshold, mask_threshold
from slidesnake.pu.params import PUParams

log = logging.getLogger(__name__)
MIN_PU_TILES = 5  # per fold, of P and of U
IMPLAUSIBLE_PRIOR = 0.5  # an estimated tumor share of the unannotated tiles above this gets a warning
MASK_RULES = ("dice", "prior")  # pu.mask_threshold's named rules (else a probability)


@dataclass(frozen=True)
class SlideTiles:
    """One slide's tile features and the annotated tumor share of each tile (None without an annotation)."""

    features: np.ndarray
    annotated_tumor: np.ndarray | None
    negative: np.ndarray | None = None  # bool: tiles a pathologist confirmed benign (io.corrected_labels) ...
    ignored: np.ndarray | None = None  # ... and tiles no set takes (artefact, ignore, conflicting corrections)


@dataclass
class PUResult:
    tile_scores: dict[str, dict[str, np.ndarray]]  # test slide -> PU mode -> tumor probability of each tile,
    # and PU_MASK -> 1 for the tiles of the tumor mask, else 0
    slide_rows: list[dict]  # test slide: slide_id, patient_id, label, fold, {mode}_score
    folds: list[dict]  # per fold: prior estimate and use, |P|, |U|, |N|, steps

    def summary(self, task: str) -> dict:
        return {
            "task": task,
            "folds": self.folds,
            "mean_estimated_prior": float(np.mean([f["estimated_prior"] for f in self.folds])),
        }


def fold_sets(
    slides: list[str], tiles: dict[str, SlideTiles], positive: dict[str, bool], params: PUParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """P, U and N (None without negatives) of the given training slides: N holds the tiles of negative slides
    (with pu.use_negative_slides) and the confirmed negative tiles of positive slides (a pathologist's
    corrections, always); ignored tiles are in none."""
    p, u, n, confirmed = [], [], [], []
    for s in slides:
        slide = tiles[s]
        keep = np.ones(len(slide.features), bool) if slide.ignored is None else ~slide.ignored
        features, annotation = slide.features, slide.annotated_tumor
        if positive[s]:
            if annotation is None:
                raise SlideError(
                    s,
                    "is positive but has no annotation mask; PU learning needs partial annotations on positive slides",
                )
            negative = np.zeros(len(features), bool) if slide.negative is None else slide.negative
            tumor = annotation >= params.tumor_threshold
            p.append(features[tumor & keep])
            confirmed.append(features[negative & ~tumor & keep])
            u.append(features[~tumor & ~negative & keep])
        else:
            n.append(features[keep])
    negatives = (n if params.use_negative_slides else []) + [c for c in confirmed if len(c)]
    return np.concatenate(p), np.concatenate(u), np.concatenate(negatives) if negatives else None


def fold_mask_threshold(
    model, p: np.ndarray, u: np.ndarray, n: np.ndarray | None, prior: float, params: PUParams
) -> float:
    """The fold's tumor-mask threshold on nnPU probabilities (slidesnake.pu.masks): pu.mask_threshold as a
    number, "dice" (expected Dice from P's recall and N's false positives; "prior" without N), or "prior"
    (calls the prior's share of the fold's Unlabeled training tiles tumor)."""
    if params.mask_threshold not in MASK_RULES:
        return float(params.mask_threshold)
    if params.mask_threshold == "dice" and n is not None:
        return dice_threshold(tile_probabilities(*model, p), tile_probabilities(*model, n), prior)
    return mask_threshold(tile_probabilities(*model, u), prior)


def cross_validate_pu(
    task: str, positive_class: str, splits: pd.DataFrame, tiles: dict[str, SlideTiles], params: PUParams
) -> PUResult:
    """Every fold of `splits` (a splits table): train on its train and validation slides, score its test slides."""
    positive = {s: label == positive_class for s, label in zip(splits["slide_id"], splits["label"], strict=False)}
    labels, patients = splits.set_index("slide_id")["label"], splits.set_index("slide_id")["patient_id"]
    result = PUResult({}, [], [])
    for fold in fold_numbers(splits):
        parts = fold_partitions(splits, fold)
        p, u, n = fold_sets(parts[TRAIN] + parts[VALIDATION], tiles, positive, params)
        if len(p) < MIN_PU_TILES or len(u) < MIN_PU_TILES:
            raise ConfigError(
                "pu.tumor_threshold",
                f"PU fold {fold}: {len(p)} annotated tumor tiles (tumor fraction "
                f">= {params.tumor_threshold}) and {len(u)} unlabeled tiles; at "
                f"least {MIN_PU_TILES} of each are needed (annotate more tumor, "
                "or lower pu.tumor_threshold)",
            )
        estimate = elkan_noto_prior(p, u, seed=params.seed)
        prior = params.prior if params.prior is not None else estimate["prior"]
        if params.prior is None and estimate["prior"] > IMPLAUSIBLE_PRIOR:
            log.warning(
                "%s PU fold %d: the estimated tumor share of unannotated tiles is %.2f, which is rarely "
                "true; with few annotated tiles (%d here) Elkan-Noto overestimates it and nnPU then ranks "
                "tiles worse than the naive baseline. Set pu.prior if you know the share.",
                task,
                fold,
                estimate["prior"],
                len(p),
            )
        record = {
            "fold": fold,
            "estimated_prior": estimate["prior"],
            "label_frequency_c": estimate["label_frequency_c"],
            "prior_used": prior,
            "n_positive": len(p),
            "n_unlabeled": len(u),
            "n_negative": 0 if n is None else len(n),
        }
        models = {}
        for mode in PU_MODES:
            model, scaler, history = train_tile_classifier(p, u, n, prior, params, mode)
            models[mode] = (model, scaler)
            record[f"{mode}_steps"] = history["selected_step"]
        record["tumor_mask_threshold"] = fold_mask_threshold(models[PU_SCORE], p, u, n, prior, params)
        result.folds.append(record)
        for s in parts[TEST]:
            scores = {mode: tile_probabilities(m, sc, tiles[s].features) for mode, (m, sc) in models.items()}
            scores[PU_MASK] = (scores[PU_SCORE] >= record["tumor_mask_threshold"]).astype(np.float32)
            result.tile_scores[s] = scores
            result.slide_rows.append(
                {
                    "slide_id": s,
                    "patient_id": patients.loc[s],
                    "label": labels.loc[s],
                    "fold": fold,
                    **{f"{mode}_score": top_k_mean(scores[mode], params.top_k) for mode in models},
                }
            )
        log.info(
            "%s PU fold %d: |P|=%d |U|=%d |N|=%d, prior estimate %.3f (used %.3f)",
            task,
            fold,
            len(p),
            len(u),
            0 if n is None else len(n),
            estimate["prior"],
            prior,
        )
    return result
