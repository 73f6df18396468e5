"""Cohort manifests: one tab-separated table per cohort listing every slide's files, so that cohort-level
jobs depend on one file instead of thousands, and receive an explicit slide -> file map.

Slide manifest (`results/cohort/{cohort}/slides.tsv`): slide_id, patient_id, and the paths of the slide,
tissue mask, mask info, thumbnail, tiles, annotation mask and demo truth mask (empty when a slide has none).
Feature manifest (`results/cohort/{cohort}/features_{encoder}.tsv`): slide_id, features, tiles, dim.
"""

from __future__ import annotations

import csv
from pathlib import Path

from slidesnake.core.atomic import atomic_output

SLIDE_COLUMNS = ("slide_id", "patient_id", "slide", "mask", "mask_info", "thumbnail", "tiles", "annotation", "truth")
FEATURE_COLUMNS = ("slide_id", "features", "tiles", "dim")


def write_manifest(path: str | Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})


def read_manifest(path: str | Path) -> dict[str, dict]:
    """slide -> row; empty cells are None, dim is a number."""
    rows = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            row = {k: (v if v != "" else None) for k, v in row.items()}
            if row.get("dim") is not None:
                row["dim"] = int(row["dim"])
            rows[row["slide_id"]] = row
    return rows
