"""Calibration and operating points of out-of-fold slide probabilities of the positive class (one against the
rest for several classes), with patient-bootstrap 95% intervals.

Calibration: expected calibration error (ECE), Brier score and the reliability-diagram bins. Operating points:
a threshold at Youden's J and one reaching a target sensitivity. A slide is called positive when its probability
is at least the threshold. Thresholds are chosen without leakage: fold k's threshold is chosen on the
out-of-fold predictions of the slides not in fold k and applied to fold k, and the sensitivity and specificity
reported are those of the applied thresholds. The threshold chosen on all out-of-fold predictions, the one to
apply to new slides, is reported beside them; it is never evaluated on the slides it was chosen on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

from slidesnake.evaluation.metrics import grouped_interval

CALIBRATION_BINS = 10
TARGET_SENSITIVITY = 0.9
YOUDEN, TARGET = "youden", "target_sensitivity"  # the operating-point rules, the keys of operating_points()
CALIBRATION, OPERATING_POINTS, PLATT = "calibration", "operating_points", "platt"  # keys of a model's entry
LOGIT_CLIP = 1e-6  # probabilities are clipped to [LOGIT_CLIP, 1 - LOGIT_CLIP] before their logit
PLATT_ITERATIONS = 100


def brier_score(y: np.ndarray, p: np.ndarray) -> float | None:
    """Mean squared difference between the probability and the 0/1 outcome; None without slides."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    return float(np.mean((p - y) ** 2)) if len(y) else None


def bin_index(p: np.ndarray, bins: int = CALIBRATION_BINS) -> np.ndarray:
    """Equal-width bin of each probability: bin b holds [b/bins, (b+1)/bins), the last one also holds 1."""
    return np.clip((np.asarray(p, float) * bins).astype(int), 0, bins - 1)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float | None:
    """ECE = sum over the equal-width bins b of (n_b / n) * |observed_b - predicted_b|, where n_b is the number of
    slides whose probability falls in b (see bin_index), observed_b the share of positives among them and
    predicted_b their mean probability; empty bins add nothing. None without slides."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    if not len(y):
        return None
    index = bin_index(p, bins)
    counts = np.bincount(index, minlength=bins)
    gap = np.abs(np.bincount(index, y, bins) - np.bincount(index, p, bins))  # per-bin sums: n_b * |obs - pred|
    return float(gap.sum() / counts.sum())


def reliability_bins(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict]:
    """The reliability diagram: per equal-width bin its edges, slide count, mean probability and observed share
    of positives (None for an empty bin)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    index = bin_index(p, bins)
    out = []
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        out.append(
            {
                "lower": b / bins,
                "upper": (b + 1) / bins,
                "count": count,
                "mean_predicted": float(p[members].mean()) if count else None,
                "observed": float(y[members].mean()) if count else None,
            }
        )
    return out


def sensitivity_specificity(y: np.ndarray, called: np.ndarray) -> tuple[float | None, float | None]:
    """Share of positives called positive and of negatives called negative (None where a class is absent)."""
    y, called = np.asarray(y, bool), np.asarray(called, bool)
    sensitivity = float(called[y].mean()) if y.any() else None
    specificity = float((~called[~y]).mean()) if (~y).any() else None
    return sensitivity, specificity


def _candidates(p: np.ndarray) -> np.ndarray:
    """Candidate thresholds, highest first: every distinct probability (each one calls itself positive)."""
    return np.unique(p)[::-1]


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float | None:
    """The threshold maximising Youden's J = sensitivity + specificity - 1 among the distinct probabilities (the
    highest such threshold on ties); None unless both classes are present."""
    y, p = np.asarray(y, bool), np.asarray(p, float)
    if y.all() or not y.any():
        return None
    best, best_j = None, -np.inf
    for t in _candidates(p):
        sensitivity, specificity = sensitivity_specificity(y, p >= t)
        if sensitivity + specificity - 1 > best_j + 1e-12:
            best, best_j = float(t), sensitivity + specificity - 1
    return best


def sensitivity_threshold(y: np.ndarray, p: np.ndarray, target: float = TARGET_SENSITIVITY) -> float | None:
    """The highest threshold whose sensitivity reaches `target` (in (0, 1]; the most specific threshold that
    does): a probability of a positive slide; None without positives."""
    if not 0 < target <= 1:
        raise ValueError(f"target sensitivity {target} is not in (0, 1]")
    y, p = np.asarray(y, bool), np.asarray(p, float)
    if not y.any():
        return None
    positives = p[y]
    candidates = _candidates(positives)
    reached = (positives[None, :] >= candidates[:, None]).mean(1) >= target - 1e-12  # the lowest one always does
    return float(candidates[reached].max())


def nested_thresholds(
    y: np.ndarray, p: np.ndarray, folds: np.ndarray, choose: Callable[[np.ndarray, np.ndarray], float | None]
) -> dict:
    """Fold -> the threshold `choose(y, p)` picks on the slides of the other folds (None where it cannot)."""
    y, p, folds = np.asarray(y, bool), np.asarray(p, float), np.asarray(folds)
    return {int(k): choose(y[folds != k], p[folds != k]) for k in np.unique(folds)}


def operating_point(
    y: np.ndarray,
    p: np.ndarray,
    folds: np.ndarray,
    patients: np.ndarray,
    choose: Callable[[np.ndarray, np.ndarray], float | None],
) -> dict:
    """One operating-point rule: the threshold chosen on all out-of-fold predictions (for new slides), each fold's
    threshold chosen on the other folds, and the sensitivity and specificity of those applied thresholds over the
    slides with one, with patient-bootstrap intervals (thresholds held fixed, slides resampled by patient)."""
    y, p, folds, patients = np.asarray(y, bool), np.asarray(p, float), np.asarray(folds), np.asarray(patients)
    per_fold = nested_thresholds(y, p, folds, choose)
    threshold = np.array([np.nan if per_fold[int(k)] is None else per_fold[int(k)] for k in folds])
    applied = ~np.isnan(threshold)
    y_applied, called = y[applied], p[applied] >= threshold[applied]
    sensitivity, specificity = sensitivity_specificity(y_applied, called)
    intervals = {
        f"{name}_ci": grouped_interval(
            lambda rows, i=i: sensitivity_specificity(y_applied[rows], called[rows])[i], patients[applied]
        )
        if applied.any()
        else None
        for i, name in enumerate(("sensitivity", "specificity"))
    }
    return {
        "threshold": choose(y, p),
        "fold_thresholds": per_fold,
        "slides": int(applied.sum()),
        "sensitivity": sensitivity,
        "specificity": specificity,
        **intervals,
    }


def threshold_rules(target: float = TARGET_SENSITIVITY) -> dict[str, Callable[[np.ndarray, np.ndarray], float | None]]:
    """The operating-point rules, name -> the threshold it chooses from (y, p): Youden's J, and the highest
    threshold reaching the `target` sensitivity."""
    return {YOUDEN: youden_threshold, TARGET: lambda y, p: sensitivity_threshold(y, p, target)}


def operating_points(
    y: np.ndarray, p: np.ndarray, folds: np.ndarray, patients: np.ndarray, target: float = TARGET_SENSITIVITY
) -> dict:
    """Both rules (threshold_rules) as operating_point dicts; TARGET's also holds its target sensitivity."""
    points = {rule: operating_point(y, p, folds, patients, choose) for rule, choose in threshold_rules(target).items()}
    points[TARGET] = {"target": target, **points[TARGET]}
    return points


def calibration(y: np.ndarray, p: np.ndarray, patients: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """ECE and Brier score with patient-bootstrap intervals, and the reliability bins, each bin's observed share
    with its interval (over the resamples that put slides into the bin)."""
    y, p, patients = np.asarray(y, bool), np.asarray(p, float), np.asarray(patients)
    index = bin_index(p, bins)
    reliability = reliability_bins(y, p, bins)
    for b, row in enumerate(reliability):
        row["observed_ci"] = (
            grouped_interval(lambda rows, b=b: _observed(y[rows], index[rows] == b), patients) if row["count"] else None
        )
    return {
        "bins": bins,
        **calibration_summary(y, p, patients, bins),
        "reliability": reliability,
    }


def _observed(y: np.ndarray, members: np.ndarray) -> float | None:
    return float(y[members].mean()) if members.any() else None


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), LOGIT_CLIP, 1 - LOGIT_CLIP)
    return np.log(p / (1 - p))


def platt_fit(y: np.ndarray, p: np.ndarray) -> tuple[float, float] | None:
    """Platt scaling: (a, b) of the calibrated probability sigmoid(a * logit(p) + b), the maximum-likelihood
    logistic fit (damped Newton's method) against Platt's smoothed targets, (n+ + 1) / (n+ + 2) for positives and
    1 / (n- + 2) for negatives, which keep the fit finite on separable predictions. None unless both classes are
    present."""
    y, x = np.asarray(y, bool), logit(p)
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return None
    target = np.where(y, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    design = np.column_stack([x, np.ones_like(x)])

    def loss(params: np.ndarray) -> float:  # cross-entropy against the targets
        z = design @ params
        return float(np.sum(np.logaddexp(0, z) - target * z))

    params = np.array([1.0, 0.0])
    for _ in range(PLATT_ITERATIONS):
        q = expit(design @ params)
        gradient = design.T @ (q - target)
        hessian = design.T @ (design * (q * (1 - q))[:, None]) + 1e-9 * np.eye(2)
        step, before = np.linalg.solve(hessian, gradient), loss(params)
        while loss(params - step) > before and np.abs(step).max() > 1e-12:  # damped: never a worse fit
            step = step / 2
        params = params - step
        if np.abs(step).max() < 1e-10:
            break
    return float(params[0]), float(params[1])


def platt_apply(params: tuple[float, float], p: np.ndarray) -> np.ndarray:
    """The calibrated probabilities sigmoid(a * logit(p) + b)."""
    a, b = params
    return expit(a * logit(p) + b)


def nested_platt(y: np.ndarray, p: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, dict]:
    """Each fold's probabilities calibrated by the map fitted on the other folds' (NaN where no map could be
    fitted: a class missing from the other folds), and fold -> its (a, b) or None."""
    y, p, folds = np.asarray(y, bool), np.asarray(p, float), np.asarray(folds)
    calibrated, params = np.full(len(p), np.nan), {}
    for k in np.unique(folds):
        fitted = platt_fit(y[folds != k], p[folds != k])
        params[int(k)] = fitted
        if fitted is not None:
            calibrated[folds == k] = platt_apply(fitted, p[folds == k])
    return calibrated, params


def calibration_summary(y: np.ndarray, p: np.ndarray, patients: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """ECE and Brier score with their patient-bootstrap intervals (None without slides)."""
    return {
        "ece": expected_calibration_error(y, p, bins),
        "ece_ci": grouped_interval(lambda rows: expected_calibration_error(y[rows], p[rows], bins), patients)
        if len(y)
        else None,
        "brier": brier_score(y, p),
        "brier_ci": grouped_interval(lambda rows: brier_score(y[rows], p[rows]), patients) if len(y) else None,
    }


def platt_entry(
    y: np.ndarray, p: np.ndarray, folds: np.ndarray, patients: np.ndarray, bins: int = CALIBRATION_BINS
) -> dict:
    """Platt scaling out of fold (nested_platt): ECE and Brier score with patient-bootstrap intervals before and
    after, over the slides whose fold had a map; each fold's map and the cohort's map (fitted on all out-of-fold
    predictions: the one applied to new slides)."""
    y, p, patients = np.asarray(y, bool), np.asarray(p, float), np.asarray(patients)
    calibrated, per_fold = nested_platt(y, p, folds)
    fitted = ~np.isnan(calibrated)
    summaries = {
        name: calibration_summary(y[fitted], values[fitted], patients[fitted], bins)
        for name, values in (("before", p), ("after", calibrated))
    }
    return {"slides": int(fitted.sum()), "fold_params": per_fold, "cohort_params": platt_fit(y, p), **summaries}
