"""Classification metrics for binary and multi-class labels."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from slidesnake.core.labels import POSITIVE_INDEX


def binary_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC of `scores` against binary `y` (the Mann-Whitney statistic, ties counted half, as sklearn's
    roc_auc_score); None when `y` holds a single class. Plain numpy: bootstrap intervals call it thousands of
    times."""
    y = np.asarray(y).astype(bool)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(np.asarray(scores, float))
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def balanced_accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Mean recall over the classes present in `labels`."""
    return float(np.mean([np.mean(predictions[labels == c] == c) for c in np.unique(labels)]))


def f1(labels: np.ndarray, predictions: np.ndarray, positive: int | None) -> float:
    """F1 of the `positive` class, or (None) the mean F1 over the classes in labels or predictions (macro); a
    class without true or predicted members scores 0."""

    def class_f1(c) -> float:
        hits = np.sum((predictions == c) & (labels == c))
        total = np.sum(predictions == c) + np.sum(labels == c)
        return float(2 * hits / total) if total else 0.0

    if positive is not None:
        return class_f1(positive)
    return float(np.mean([class_f1(c) for c in np.union1d(labels, predictions)]))


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """AUC (one-vs-rest macro for several classes; None unless every class is present), balanced accuracy and F1
    of argmax predictions."""
    labels = np.asarray(labels, int)
    predictions = probabilities.argmax(1)
    n_classes = probabilities.shape[1]
    positive = range(n_classes)[POSITIVE_INDEX]  # the positive class's label value
    out = {
        "n": int(len(labels)),
        "balanced_accuracy": balanced_accuracy(labels, predictions) if len(labels) else None,
        "f1": f1(labels, predictions, positive if n_classes == 2 else None) if len(labels) else None,
    }
    out["auc"] = slide_auc(labels, probabilities)
    return out


def slide_auc(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    """AUC of class indices `labels` against class probabilities (N x classes): the positive class's for two
    classes, the one-vs-rest macro mean for more; None unless every class is present."""
    labels = np.asarray(labels, int)
    n_classes = probabilities.shape[1]
    if n_classes == 2:
        return binary_auc(labels == range(n_classes)[POSITIVE_INDEX], probabilities[:, POSITIVE_INDEX])
    per_class = [binary_auc(labels == c, probabilities[:, c]) for c in range(n_classes)]
    return None if None in per_class else float(np.mean(per_class))


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
    return grouped_interval(lambda rows: binary_auc(y[rows], scores[rows]), groups, **options)


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
