"""Metrics of survival and regression predictions, with patient-bootstrap intervals.

Survival: Harrell's C-index (lifelines.utils.concordance_index: pairs ordered by time, the higher risk
expected to fail first, ties in risk counting one half) and Kaplan-Meier risk groups (median split, tertiles)
compared with the log-rank test (lifelines.statistics.multivariate_logrank_test). Regression: Pearson, Spearman,
R² and MAE."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import concordance_index
from scipy.stats import rankdata

from slidesnake.evaluation.metrics import grouped_interval

RISK_GROUPS = {"median": 2, "tertiles": 3}  # Kaplan-Meier risk groups: name -> number of groups


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float | None:
    """Harrell's C-index of risks (higher: earlier event expected); None without a comparable pair."""
    time, event, risk = np.asarray(time, float), np.asarray(event, int), np.asarray(risk, float)
    if len(time) < 2 or not event.any():
        return None
    try:
        return float(concordance_index(time, -risk, event))
    except ZeroDivisionError:  # lifelines: no admissible pairs
        return None


def risk_groups(risk: np.ndarray, groups: int) -> np.ndarray:
    """Group of each slide by risk rank: 0 lowest risk ... groups-1 highest, of about equal size."""
    ranks = np.argsort(np.argsort(np.asarray(risk, float), kind="stable"), kind="stable")
    return (ranks * groups // max(len(ranks), 1)).astype(int)


def logrank_p(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> float | None:
    """p-value of the log-rank test between the groups (None with fewer than two groups or no event)."""
    if len(np.unique(group)) < 2 or not np.asarray(event).any():
        return None
    return float(multivariate_logrank_test(time, group, event).p_value)


def survival_entry(time, event, risk, patients, **options) -> dict:
    """C-index with its patient-bootstrap 95% interval, and per risk grouping the log-rank p-value and each
    group's size and events."""
    time, event, risk = np.asarray(time, float), np.asarray(event, int), np.asarray(risk, float)
    entry = {
        "n": int(len(time)),
        "events": int(event.sum()),
        "c_index": harrell_c(time, event, risk),
        "c_index_ci": grouped_interval(
            lambda rows: harrell_c(time[rows], event[rows], risk[rows]), patients, **options
        ),
        "risk_groups": {},
    }
    for name, count in RISK_GROUPS.items():
        group = risk_groups(risk, count)
        entry["risk_groups"][name] = {
            "logrank_p": logrank_p(time, event, group),
            "slides": [int((group == g).sum()) for g in range(count)],
            "events": [int(event[group == g].sum()) for g in range(count)],
        }
    return entry


def pearson(y: np.ndarray, predicted: np.ndarray) -> float | None:
    """Pearson correlation; None when either side is constant."""
    yc, pc = y - y.mean(), predicted - predicted.mean()
    denominator = np.sqrt((yc @ yc) * (pc @ pc))
    return float(yc @ pc / denominator) if denominator > 0 else None


def spearman(y: np.ndarray, predicted: np.ndarray) -> float | None:
    """Spearman correlation: Pearson's of the ranks (ties share their mean rank)."""
    return pearson(rankdata(y), rankdata(predicted))


def r_squared(y: np.ndarray, predicted: np.ndarray) -> float | None:
    """1 - residual / total sum of squares; None when y is constant."""
    total = float(((y - y.mean()) ** 2).sum())
    return float(1 - ((y - predicted) ** 2).sum() / total) if total > 0 else None


REGRESSION_METRICS = {
    "pearson": pearson,
    "spearman": spearman,
    "r2": r_squared,
    "mae": lambda y, predicted: float(np.abs(y - predicted).mean()),
    "mse": lambda y, predicted: float(((y - predicted) ** 2).mean()),
}
REGRESSION_INTERVALS = ("pearson", "spearman", "r2", "mae")  # the metrics reported with a bootstrap interval


def regression_metric(name: str, y: np.ndarray, predicted: np.ndarray) -> float | None:
    """One of REGRESSION_METRICS; None with fewer than 3 slides."""
    y, predicted = np.asarray(y, float), np.asarray(predicted, float)
    return REGRESSION_METRICS[name](y, predicted) if len(y) >= 3 else None


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """Pearson and Spearman correlations, R² (1 - residual / total sum of squares), mean absolute and mean squared
    error; all None with fewer than 3 slides."""
    return {name: regression_metric(name, y, predicted) for name in REGRESSION_METRICS}


def regression_entry(y, predicted, patients, **options) -> dict:
    """regression_metrics with a patient-bootstrap 95% interval for each of REGRESSION_INTERVALS."""
    y, predicted = np.asarray(y, float), np.asarray(predicted, float)
    entry = {"n": int(len(y)), **regression_metrics(y, predicted)}
    for name in REGRESSION_INTERVALS:
        entry[f"{name}_ci"] = grouped_interval(
            lambda rows, name=name: regression_metric(name, y[rows], predicted[rows]), patients, **options
        )
    return entry


BASELINE_PENALTY = 0.5  # ridge penalty of the covariate baseline (lifelines' penalizer; sklearn Ridge's alpha)
BASELINE_COMPONENTS = 2  # principal components of the slides' mean features among the baseline's covariates


def baseline_covariates(simple: np.ndarray, mean_features: np.ndarray | None, train: np.ndarray) -> np.ndarray:
    """Covariates of every slide, standardised on the `train` rows: the simple ones (log tile count, tissue area)
    and the first BASELINE_COMPONENTS principal components of the slide-mean features, fitted on `train`."""
    columns = [np.asarray(simple, float)]
    if mean_features is not None:
        centre = mean_features[train].mean(0)
        _, _, vt = np.linalg.svd(mean_features[train] - centre, full_matrices=False)
        columns.append((mean_features - centre) @ vt[:BASELINE_COMPONENTS].T)
    x = np.column_stack(columns)
    sd = x[train].std(0)
    return (x - x[train].mean(0)) / np.where(sd > 0, sd, 1.0)


def baseline_predictions(
    kind: str, simple: np.ndarray, mean_features: np.ndarray | None, targets: dict[str, np.ndarray], folds: np.ndarray
) -> np.ndarray:
    """Out-of-fold outputs of a Cox (survival: log partial hazard) or ridge (regression) model on the slides'
    covariates (baseline_covariates), fitted for each test fold on the other folds' slides: the baseline a slide
    model has to beat."""
    from lifelines import CoxPHFitter
    from sklearn.linear_model import Ridge

    out = np.zeros(len(folds))
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        x = baseline_covariates(simple, mean_features, train)
        if kind == "survival":
            frame = pd.DataFrame(x[train], columns=[f"x{i}" for i in range(x.shape[1])])
            frame["time"], frame["event"] = targets["time"][train], targets["event"][train]
            model = CoxPHFitter(penalizer=BASELINE_PENALTY).fit(frame, "time", "event")
            out[test] = model.predict_log_partial_hazard(pd.DataFrame(x[test], columns=frame.columns[:-2])).to_numpy()
        else:
            out[test] = Ridge(alpha=BASELINE_PENALTY).fit(x[train], targets["value"][train]).predict(x[test])
    return out


def endpoint_entry(kind: str, table: pd.DataFrame, output: str, **options) -> dict:
    """The out-of-fold entry of one model (or the baseline) of a survival or regression task: its predictions table
    (one row per slide, targets and `output` column) scored with survival_entry or regression_entry, and the spread
    of the per-fold metric."""
    patients = table["patient_id"].to_numpy()
    if kind == "survival":
        entry = survival_entry(table["time"], table["event"], table[output], patients, **options)
        per_fold = [harrell_c(g["time"], g["event"], g[output]) for _, g in table.groupby("fold")]
        metric = "c_index"
    else:
        entry = regression_entry(table["value"], table[output], patients, **options)
        per_fold = [regression_metrics(g["value"], g[output])["r2"] for _, g in table.groupby("fold")]
        metric = "r2"
    per_fold = [v for v in per_fold if v is not None]
    entry[f"fold_{metric}_mean"] = float(np.mean(per_fold)) if per_fold else None
    entry[f"fold_{metric}_sd"] = float(np.std(per_fold)) if per_fold else None
    return entry
