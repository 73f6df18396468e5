"""Classification metrics for binary and multi-class labels."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from slidesnake.core.labels import POSITIVE_INDEX


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """AUC (one-vs-rest macro for several classes), balanced accuracy and F1 of argmax predictions."""
    labels = np.asarray(labels, int)
    predictions = probabilities.argmax(1)
    n_classes = probabilities.shape[1]
    out = {
        "n": int(len(labels)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predictions)) if len(labels) else None,
        "f1": float(f1_score(labels, predictions, average="binary" if n_classes == 2 else "macro", zero_division=0))
        if len(labels)
        else None,
    }
    out["auc"] = slide_auc(labels, probabilities)
    return out


def slide_auc(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    """AUC of class indices `labels` against class probabilities (one-vs-rest macro for several classes); None
    when the labels hold one class."""
    labels = np.asarray(labels, int)
    n_classes = probabilities.shape[1]
    if len(np.unique(labels)) < 2:
        return None
    if n_classes == 2:
        return rank_auc(labels == n_classes - 1, probabilities[:, POSITIVE_INDEX])
    return float(
        roc_auc_score(labels, probabilities, multi_class="ovr", average="macro", labels=list(range(n_classes)))
    )


def rank_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of binary `y` (both classes present) as the Mann-Whitney statistic: the share of positive-negative
    pairs the scores order right, ties counting one half (as roc_auc_score, at a fraction of its cost inside a
    bootstrap)."""
    y, scores = np.asarray(y, bool), np.asarray(scores, float)
    ranks = rankdata(scores)
    positives = int(y.sum())
    negatives = len(y) - positives
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def safe_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC, or None when `y` holds a single class."""
    return float(roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else None


BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


def bootstrap_interval(
    statistic, groups: list, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Percentile interval of `statistic(chosen groups)` over resamples of the groups with replacement (a
    cluster bootstrap: patients for slide AUCs, slides for tile AUCs). Resamples where the statistic is
    undefined (None, e.g. one class only) are skipped; None when fewer than half are defined."""
    rng = np.random.default_rng(seed)
    groups = list(groups)
    values = []
    for _ in range(samples):
        value = statistic([groups[i] for i in rng.integers(len(groups), size=len(groups))])
        if value is not None:
            values.append(value)
    if len(values) < samples / 2:
        return None
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def grouped_interval(statistic, groups: np.ndarray, **options) -> tuple[float, float] | None:
    """Bootstrap interval of `statistic(rows)` (rows: an index array), resampling whole groups of rows."""
    groups = np.asarray(groups)
    members = {g: np.flatnonzero(groups == g) for g in np.unique(groups)}
    return bootstrap_interval(
        lambda chosen: statistic(np.concatenate([members[g] for g in chosen])), list(members), **options
    )


def grouped_auc_interval(
    y: np.ndarray, scores: np.ndarray, groups: np.ndarray, **options
) -> tuple[float, float] | None:
    """Bootstrap interval of the AUC of `scores` against binary `y`, resampling whole groups (patients,
    or slides for tile AUCs)."""
    y, scores = np.asarray(y), np.asarray(scores)
    return grouped_interval(lambda rows: safe_auc(y[rows], scores[rows]), groups, **options)


def mean_interval(values: list[float], **options) -> tuple[float, float] | None:
    """Bootstrap interval of a mean of per-unit values (per-slide tile AUCs), resampling the units."""
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return None
    return bootstrap_interval(lambda chosen: float(np.mean(chosen)), values, **options)


def mask_overlap(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Dice and IoU of two boolean tile masks (1.0 for both when both are empty)."""
    predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
    both, either = float((predicted & truth).sum()), float((predicted | truth).sum())
    total = float(predicted.sum() + truth.sum())
    return {"dice": 1.0 if total == 0 else 2 * both / total, "iou": 1.0 if either == 0 else both / either}
