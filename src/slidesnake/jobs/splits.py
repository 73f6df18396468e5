"""Rule splits: patient-level, label-stratified cross-validation folds of one task."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.evaluation.splits import check_no_leakage, patient_folds

log = logging.getLogger(__name__)


def run(labels: dict[str, str], patients: dict[str, str], folds: int, seed: int, out_csv: Path) -> pd.DataFrame:
    """Write one row per slide with its fold0..fold{k-1} partitions (train / val / test)."""
    table = pd.DataFrame(
        {"slide_id": list(labels), "patient_id": [patients[s] for s in labels], "label": list(labels.values())}
    )
    splits = patient_folds(table, folds, seed)
    check_no_leakage(splits)
    with atomic_output(out_csv) as tmp:
        splits.to_csv(tmp, index=False)
    for fold in range(folds):
        log.info("fold %d: %s slides", fold, splits.groupby(f"fold{fold}").size().to_dict())
    return splits
