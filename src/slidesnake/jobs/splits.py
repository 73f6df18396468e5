"""Rule splits: patient-level or site-preserved (training.split_by) cross-validation folds of one task, stratified
by class (classification), by event (survival) or by the value's quantile (regression); the table carries each
slide's site (where the sheet has them) and the survival and regression targets."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.core.labels import CLASSIFICATION, SITE_COLUMN, SURVIVAL
from slidesnake.core.sites import SPLIT_BY_PATIENT, SPLIT_BY_SITE
from slidesnake.evaluation.splits import (
    EVENT,
    EVENT_STRATA,
    TIME,
    VALUE,
    check_no_leakage,
    check_site_preserved,
    patient_folds,
    site_folds,
    value_strata,
)

log = logging.getLogger(__name__)


def target_table(labels: dict, kind: str, folds: int) -> dict:
    """The label (stratum) and target columns of a task's targets (workflow.tasks: classes, [time, event], values)."""
    if kind == CLASSIFICATION:
        return {"label": list(labels.values())}
    if kind == SURVIVAL:
        times, events = zip(*labels.values(), strict=True) if labels else ((), ())
        return {"label": [EVENT_STRATA[int(e)] for e in events], TIME: list(times), EVENT: list(events)}
    values = np.array(list(labels.values()), float)
    return {"label": value_strata(values, folds), VALUE: values}


def run(
    labels: dict,
    patients: dict[str, str],
    folds: int,
    seed: int,
    out_csv: Path,
    kind: str = CLASSIFICATION,
    sites: dict[str, str | None] | None = None,
    split_by: str = SPLIT_BY_PATIENT,
) -> pd.DataFrame:
    """Write one row per slide with its fold0..fold{k-1} partitions (train / val / test), its stratum (`label`),
    its site (with `sites` holding any) and, for survival and regression tasks (`kind`), its targets; `split_by`
    "site" keeps each site's slides in one fold's test part (evaluation.splits.site_folds)."""
    sites = sites or {}
    with_sites = any(sites.get(s) is not None for s in labels)
    table = pd.DataFrame(
        {
            "slide_id": list(labels),
            "patient_id": [patients[s] for s in labels],
            **({SITE_COLUMN: [sites.get(s) for s in labels]} if with_sites else {}),
            **target_table(labels, kind, folds),
        }
    )
    if split_by == SPLIT_BY_SITE:
        if not with_sites:
            table[SITE_COLUMN] = None
        splits = site_folds(table, folds, seed, classification=kind == CLASSIFICATION)
        check_site_preserved(splits)
    else:
        splits = patient_folds(table, folds, seed)
    check_no_leakage(splits)
    with atomic_output(out_csv) as tmp:
        splits.to_csv(tmp, index=False)
    for fold in range(folds):
        log.info("fold %d: %s slides", fold, splits.groupby(f"fold{fold}").size().to_dict())
    return splits
