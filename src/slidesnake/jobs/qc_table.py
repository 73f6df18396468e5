"""Rule qc_table: the cohort's QC table, `results/qc/{cohort}.tsv`: one row per slide with its status (ok, or
excluded with the stage, reason and the user's file), tiles, tissue area, the scale check's values and the artefact
QC's summary (the share of the tissue in artefact tiles, by kind, the median focus, the tiles dropped)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from slidesnake.io.exclusion import COLUMNS as STATUS_COLUMNS
from slidesnake.io.exclusion import OK, REASON, SOURCE, STAGE, STATUS, Exclusion
from slidesnake.io.manifest import N_TILES, QC_COLUMNS, read_manifest, write_manifest
from slidesnake.io.mask_info import QC_FIELDS, MaskInfo
from slidesnake.io.tile_file import ARTEFACT_ATTRS, TileFile

log = logging.getLogger(__name__)


def artefact_summary(tiles_h5: str) -> dict:
    """The artefact QC's slide summary recorded in a tiles file (rounded), or nothing without the QC."""
    import h5py

    with h5py.File(tiles_h5, "r") as h5:
        values = {k: h5.attrs[k] for k in ARTEFACT_ATTRS if k in h5.attrs}
    return {k: int(v) if np.issubdtype(type(v), np.integer) else round(float(v), 4) for k, v in values.items()}


def run(slide_manifest: Path, feature_manifest: Path | None, sources: dict[str, str], out: Path) -> list[dict]:
    """One row per slide of the slide manifest; a slide the feature manifest (of the training encoder, when
    there is one) marks excluded takes that status (its features failed, or its preparation did)."""
    features = read_manifest(feature_manifest, every=True) if feature_manifest else {}
    rows = []
    for slide, row in read_manifest(slide_manifest, every=True).items():
        status = features[slide] if Exclusion.from_attrs(features.get(slide, {})) else row
        info = MaskInfo.read(row["mask_info"])
        rows.append(
            {
                "slide_id": slide,
                **{k: status[k] for k in STATUS_COLUMNS},
                SOURCE: status[SOURCE] or sources[slide],
                N_TILES: TileFile.count(row["tiles"]),
                **{f.name: getattr(info, f.name) for f in QC_FIELDS},
                **artefact_summary(row["tiles"]),
            }
        )
    write_manifest(out, rows, QC_COLUMNS)
    excluded = [r for r in rows if r[STATUS] != OK]
    for r in excluded:
        log.warning("excluded: slide '%s' at %s: %s (file %s)", r["slide_id"], r[STAGE], r[REASON], r[SOURCE])
    log.info("%d slides, %d excluded: %s", len(rows), len(excluded), out)
    return rows
