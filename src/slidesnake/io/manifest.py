"""Cohort manifests: one tab-separated table per cohort listing every slide's files, so that cohort-level
jobs depend on one file instead of thousands, and receive an explicit slide -> file map.

Slide manifest (`results/cohort/{cohort}/slides.tsv`): slide_id, patient_id, and the paths of the slide,
tissue mask, mask info, thumbnail, tiles, annotation mask and demo truth mask (empty when a slide has none).
Feature manifest (`results/cohort/{cohort}/features_{encoder}.tsv`): slide_id, features, tiles, dim.
QC table (`results/qc/{cohort}.tsv`, rule qc_table): one row per slide with its status, stage, reason, source
(the sample sheet's file), tile count (n_tiles), tissue area, the scale check's values and the artefact QC's slide
summary (tissue/artefact_names.py: artefact_share, blur/pen/fold/white_share, median_focus, dropped_tiles; empty
without the artefact QC) (QC_COLUMNS).
The manifests list every slide of the cohort with its status columns (slidesnake.io.exclusion: status, stage, reason,
source): the slide manifest the preparation's (its tiles file's record), the feature manifest the features
file's. read_manifest is the one place that decides which slides cohort-level jobs read: the OK ones.
"""

from __future__ import annotations

import csv
from pathlib import Path

from slidesnake.core.atomic import atomic_output
from slidesnake.io.exclusion import COLUMNS as STATUS_COLUMNS
from slidesnake.io.exclusion import OK, STATUS
from slidesnake.io.mask_info import QC_FIELDS
from slidesnake.tissue.artefact_names import SUMMARY_KEYS

SLIDE_COLUMNS = (
    "slide_id",
    "patient_id",
    "slide",
    "mask",
    "mask_info",
    "thumbnail",
    "tiles",
    "annotation",
    "truth",
    *STATUS_COLUMNS,
)
FEATURE_COLUMNS = ("slide_id", "features", "tiles", "dim", *STATUS_COLUMNS)
N_TILES = "n_tiles"
QC_COLUMNS = ("slide_id", *STATUS_COLUMNS, N_TILES, *(f.name for f in QC_FIELDS), *SUMMARY_KEYS)  # the QC table's


def write_manifest(path: str | Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})


def read_manifest(path: str | Path, every: bool = False) -> dict[str, dict]:
    """slide -> row of the slides whose status is OK (`every`: of all slides, the excluded ones too, for the QC
    table and the evaluation's list of exclusions); empty cells are None, dim is a number."""
    rows = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            row = {k: (v if v != "" else None) for k, v in row.items()}
            if row.get("dim") is not None:
                row["dim"] = int(row["dim"])
            if every or row.get(STATUS, OK) == OK:
                rows[row["slide_id"]] = row
    return rows
