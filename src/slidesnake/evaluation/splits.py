"""Patient-level, label-stratified k-fold splits with a validation part inside each training fold."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from slidesnake.core.errors import ConfigError
from slidesnake.core.partitions import PARTITIONS, TEST, TRAIN, VALIDATION

VALIDATION_SHARE = 0.2  # of each fold's training patients
# the splits table's target columns of survival (time, event) and regression (value) tasks; "label" holds the
# stratum the folds are stratified by (the class; event or censored; the value's quantile bin)
TIME, EVENT, VALUE = "time", "event", "value"
EVENT_STRATA = ("censored", "event")
MAX_QUANTILE_BINS = 4


def value_strata(values: np.ndarray, folds: int) -> np.ndarray:
    """Quantile bins of continuous values ("q1" lowest), as many as keep about two slides per fold in each (2 to
    MAX_QUANTILE_BINS)."""
    bins = int(np.clip(len(values) // (2 * folds), 2, MAX_QUANTILE_BINS))
    ranks = pd.Series(values).rank(method="first").to_numpy()
    return np.array([f"q{int(b) + 1}" for b in np.minimum((ranks - 1) * bins // len(values), bins - 1)])


log = logging.getLogger(__name__)


def patient_folds(table: pd.DataFrame, k: int, seed: int, label_column: str = "label") -> pd.DataFrame:
    """One row per slide with columns fold0..fold{k-1} holding train / val / test.

    Every patient lies in exactly one partition of each fold; test parts are disjoint and cover the
    cohort; the validation part is one stratified group share of each fold's training patients.
    """
    if table["patient_id"].nunique() < k:
        raise ConfigError(
            "training.folds",
            f"{k}-fold cross-validation needs at least {k} patients; the sheet has {table['patient_id'].nunique()}",
        )
    labels = table[label_column].to_numpy()
    groups = table["patient_id"].to_numpy()
    out = table.reset_index(drop=True).copy()
    outer = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (train_idx, test_idx) in enumerate(outer.split(np.zeros(len(table)), labels, groups)):
        column = np.full(len(table), TRAIN, dtype=object)
        column[test_idx] = TEST
        _, val_rel = next(
            validation_splitter(labels[train_idx], groups[train_idx], seed + 1 + fold).split(
                np.zeros(len(train_idx)), labels[train_idx], groups[train_idx]
            )
        )
        column[train_idx[val_rel]] = VALIDATION
        out[f"fold{fold}"] = column
    return out


def validation_splitter(labels: np.ndarray, groups: np.ndarray, seed: int):
    """Splitter whose first part is about VALIDATION_SHARE of the patients, stratified when every label
    has at least two patients (otherwise grouped only)."""
    patients_per_label = pd.Series(groups).groupby(labels).nunique()
    n_splits = min(round(1 / VALIDATION_SHARE), len(np.unique(groups)))
    if patients_per_label.min() >= 2:
        return StratifiedGroupKFold(
            n_splits=max(2, min(n_splits, patients_per_label.min())), shuffle=True, random_state=seed
        )
    return GroupKFold(n_splits=max(2, n_splits), shuffle=True, random_state=seed)


def check_no_leakage(splits: pd.DataFrame) -> None:
    """Raise when a patient sits in two partitions of one fold."""
    for column in [c for c in splits.columns if c.startswith("fold")]:
        per_patient = splits.groupby("patient_id")[column].nunique()
        leaking = per_patient[per_patient > 1]
        if len(leaking):
            raise AssertionError(f"{column}: patients in several partitions: {list(leaking.index)}")


def fold_partitions(splits: pd.DataFrame, fold: int) -> dict[str, list[str]]:
    """Slides of one fold's train, validation and test parts."""
    column = splits[f"fold{fold}"]
    return {part: splits.loc[column == part, "slide_id"].tolist() for part in PARTITIONS}


def fold_numbers(splits: pd.DataFrame) -> list[int]:
    return sorted(int(c[len("fold") :]) for c in splits.columns if c.startswith("fold"))


def read_splits(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str)


def usable_splits(splits: pd.DataFrame, passed) -> pd.DataFrame:
    """The splits' rows of the slides that `passed` holds (a feature manifest's OK slides): folds stay those
    computed from the sample sheet, so that fixing an excluded slide reshuffles nothing; the excluded slides are
    left out of every part, with one log line."""
    keep = splits["slide_id"].isin(list(passed))
    if not keep.all():
        log.info("left out, excluded: %s", ", ".join(splits.loc[~keep, "slide_id"]))
    return splits[keep].reset_index(drop=True)
