"""Rule splits: patient-level cross-validation folds of one task, stratified by class (classification), by event
(survival) or by the value's quantile (regression); the table carries the survival and regression targets."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.core.labels import CLASSIFICATION, SURVIVAL
from slidesnake.evaluation.splits import EVENT, EVENT_STRATA, TIME, VALUE, check_no_leakage, patient_folds, value_strata

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
) -> pd.DataFrame:
    """Write one row per slide with its fold0..fold{k-1} partitions (train / val / test), its stratum (`label`)
    and, for survival and regression tasks (`kind`), its targets."""
    table = pd.DataFrame(
        {"slide_id": list(labels), "patient_id": [patients[s] for s in labels], **target_table(labels, kind, folds)}
    )
    splits = patient_folds(table, folds, seed)
    check_no_leakage(splits)
    with atomic_output(out_csv) as tmp:
        splits.to_csv(tmp, index=False)
    for fold in range(folds):
        log.info("fold %d: %s slides", fold, splits.groupby(f"fold{fold}").size().to_dict())
    return splits
