"""Patient-level or site-level, label-stratified k-fold splits with a validation part inside each training fold.

Site-preserved cross-validation (training.split_by: site) puts every site's slides in one fold's test part, so
that each fold is tested on sites its models never saw; with as many sites as folds it is leave-one-site-out."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from slidesnake.core.errors import ConfigError
from slidesnake.core.labels import SITE_COLUMN
from slidesnake.core.partitions import PARTITIONS, TEST, TRAIN, VALIDATION
from slidesnake.core.sites import check_sites

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
    outer = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    tests = [test for _, test in outer.split(np.zeros(len(table)), labels, table["patient_id"].to_numpy())]
    return with_partitions(table, tests, seed, label_column)


def site_folds(table: pd.DataFrame, k: int, seed: int, label_column: str = "label", classification: bool = True):
    """Like patient_folds, with every site's slides (column SITE_COLUMN) in one fold's test part: one site per
    fold (leave-one-site-out) when there are k sites, otherwise sites grouped into k folds stratified by label as
    far as whole sites allow."""
    sites = dict(zip(table["slide_id"], table[SITE_COLUMN].where(table[SITE_COLUMN].notna(), None), strict=True))
    classes = dict(zip(table["slide_id"], table[label_column], strict=True)) if classification else None
    check_sites(sites, dict(zip(table["slide_id"], table["patient_id"], strict=True)), k, classes)
    site_of = table[SITE_COLUMN].to_numpy()
    names = sorted(set(site_of))
    if len(names) == k:
        tests = [np.flatnonzero(site_of == name) for name in names]
    else:
        outer = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        tests = [test for _, test in outer.split(np.zeros(len(table)), table[label_column].to_numpy(), site_of)]
        if min(len(t) for t in tests) == 0:  # stratification left a fold without a site: group only
            tests = [t for _, t in GroupKFold(n_splits=k).split(np.zeros(len(table)), groups=site_of)]
    return with_partitions(table, tests, seed, label_column)


def with_partitions(table: pd.DataFrame, tests: list[np.ndarray], seed: int, label_column: str) -> pd.DataFrame:
    """The table with columns fold0.. (test: that fold's rows; validation: a stratified patient share of the
    rest; train: the others)."""
    labels = table[label_column].to_numpy()
    groups = table["patient_id"].to_numpy()
    out = table.reset_index(drop=True).copy()
    for fold, test_idx in enumerate(tests):
        train_idx = np.setdiff1d(np.arange(len(table)), test_idx)
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


def check_site_preserved(splits: pd.DataFrame) -> None:
    """Raise when a site's slides are tested in two folds."""
    tested = splits.melt(id_vars=[SITE_COLUMN], value_vars=[c for c in splits.columns if c.startswith("fold")])
    folds_per_site = tested[tested["value"] == TEST].groupby(SITE_COLUMN)["variable"].nunique()
    if (folds_per_site > 1).any():
        raise AssertionError(f"sites tested in several folds: {list(folds_per_site[folds_per_site > 1].index)}")


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


def splits_sites(splits: pd.DataFrame) -> dict[str, str]:
    """slide -> site of a splits table's slides that have one (none when the sheet has no site column)."""
    if SITE_COLUMN not in splits:
        return {}
    return splits.dropna(subset=[SITE_COLUMN]).set_index("slide_id")[SITE_COLUMN].astype(str).to_dict()
