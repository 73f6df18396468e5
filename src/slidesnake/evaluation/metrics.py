"""Classification metrics for binary and multi-class labels."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from slidesnake.core.labels import POSITIVE_INDEX


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """AUC (one-vs-rest macro for several classes), balanced accuracy and F1 of argmax predictions."""
    labels = np.asarray(labels, int)
    predictions = probabilities.argmax(1)
    n_classes = probabilities.shape[1]
    out = {"n": int(len(labels)),
           "balanced_accuracy": float(balanced_accuracy_score(labels, predictions)) if len(labels) else None,
           "f1": float(f1_score(labels, predictions, average="binary" if n_classes == 2 else "macro",
                                zero_division=0)) if len(labels) else None}
    present = np.unique(labels)
    if len(present) < 2:
        out["auc"] = None
    elif n_classes == 2:
        out["auc"] = float(roc_auc_score(labels, probabilities[:, POSITIVE_INDEX]))
    else:
        out["auc"] = float(roc_auc_score(labels, probabilities, multi_class="ovr", average="macro",
                                         labels=list(range(n_classes))))
    return out


def safe_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC, or None when `y` holds a single class."""
    return float(roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else None
