"""Rule review: the training cohort's OK slides as a QuPath project (slidesnake.io.qupath) with, per slide, the
review layers of slidesnake.review.layers (tissue, the user's annotated tumor, PU's tumor mask, the MIL model's
thresholded evidence) as GeoJSON in level-0 pixels."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import SlideError
from slidesnake.core.labels import MIL_TUMOR_CLASS, PU_TUMOR_CLASS, REVIEW_CLASSES, TISSUE_CLASS, TUMOR_CLASS
from slidesnake.core.logs import progress
from slidesnake.evaluation.splits import read_splits
from slidesnake.io.annotations import read_label_mask
from slidesnake.io.corrected_labels import read_corrected_labels
from slidesnake.io.feature_file import read_feature_file
from slidesnake.io.geojson import write_geojson
from slidesnake.io.manifest import read_manifest
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.qupath import image_entry, layer_file, write_import_script, write_project
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_scores import (
    MIL_SCORE,
    PU_MASK,
    PU_SCORE,
    rank_within_slide,
    read_tile_scores,
    scored_box_size,
)
from slidesnake.review import layers
from slidesnake.review.active import acquisition, select_regions
from slidesnake.review.params import ReviewParams
from slidesnake.tissue.tiling import mask_downsample
from slidesnake.workflow.paths import NEW_COHORT, TRAIN_COHORT

log = logging.getLogger(__name__)

PROPOSALS_FILE = "proposals.tsv"  # in the review project folder: the tiles to label next, best first
PROPOSAL_COLUMNS = ("slide_id", "rank", "tile", "x", "y", "size_level0", "score")


@dataclass(frozen=True)
class PURun:
    """What the proposals need of the PU run: each slide's tumor-mask threshold (its test fold's), the features
    PU scored, the annotated share that makes a tile Positive, and the task's positive class."""

    thresholds: dict[str, float]
    features: dict[str, str]
    tumor_threshold: float
    positive_class: str
    corrected: dict[str, str]  # slide -> corrected tile labels (review.corrections), whose labelled tiles are skipped

    @classmethod
    def read(
        cls, prior_json: Path, slide_scores: Path, feature_manifest: Path, tumor_threshold, positive_class, corrected
    ):
        folds = {
            int(f["fold"]): float(f["tumor_mask_threshold"]) for f in json.loads(Path(prior_json).read_text())["folds"]
        }
        table = pd.read_csv(slide_scores, dtype={"slide_id": str})
        thresholds = {s: folds[int(k)] for s, k in zip(table["slide_id"], table["fold"], strict=True)}
        features = {s: row["features"] for s, row in read_manifest(feature_manifest).items()}
        return cls(thresholds, features, float(tumor_threshold), positive_class, dict(corrected))


def slide_layers(
    slide: str,
    row: dict,
    pu: dict | None,
    mil: dict[str, tuple],
    mil_box: int | None,
    model: str,
    params: ReviewParams,
) -> dict[str, dict]:
    """Layer name -> GeoJSON feature collection of one slide (no PU layer without PU scores, no annotation layer
    without an annotation mask)."""
    info = MaskInfo.read(row["mask_info"])
    level0 = (info.level0_width, info.level0_height)
    tissue = cv2.imread(str(row["mask"]), cv2.IMREAD_GRAYSCALE) > 0
    found = {layers.TISSUE_LAYER: layers.mask_layer(tissue, tuple(info.mask_downsample), TISSUE_CLASS, "tissue", slide)}
    if row.get("annotation"):
        labels = read_label_mask(row["annotation"])
        downsample = mask_downsample(labels.shape, level0, f"annotation mask {row['annotation']}")
        found[layers.ANNOTATION_LAYER] = layers.annotation_layer(labels, downsample, TUMOR_CLASS, slide)
    tiles = TileFile.read(row["tiles"])
    if pu is not None:
        if slide not in pu[PU_SCORE]:
            raise SlideError(slide, "has no PU tile scores (rerun train_pu)")
        coords, probability = pu[PU_SCORE][slide]
        called = pu[PU_MASK][slide][1] > 0
        found[layers.PU_LAYER] = layers.called_tile_layer(
            coords, tiles.stride0, level0, called, probability, PU_TUMOR_CLASS, layers.PU_LAYER, slide, source="nnpu"
        )
    if slide not in mil:
        raise SlideError(slide, f"has no {model} tile scores (rerun train_mil)")
    coords, evidence = mil[slide]
    ranked = rank_within_slide(evidence)
    stride = tiles.stride0 if mil_box in (None, tiles.size0) else float(mil_box)  # HIPT scores regions
    found[layers.MIL_LAYER] = layers.called_tile_layer(
        coords,
        stride,
        level0,
        ranked >= params.evidence_threshold,
        ranked,
        MIL_TUMOR_CLASS,
        layers.MIL_LAYER,
        slide,
        source=model,
        threshold=params.evidence_threshold,
    )
    return found


def proposal_scores(
    manifest: dict[str, dict],
    slides: list[str],
    pu: dict,
    pu_run: PURun,
    mil: dict[str, tuple],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Acquisition score, features and labelled flags of the tiles of `slides` (review.active): PU uncertainty at
    the tumor-mask threshold of the fold that tested the slide, and the disagreement with the MIL evidence where
    it scores the same tiles; annotated tumor tiles are labelled, and with corrections also the confirmed negative
    and ignored ones."""
    scores, features, labelled = {}, {}, {}
    for slide in slides:
        coords, probability = pu[PU_SCORE][slide]
        values, feature_coords, _ = read_feature_file(Path(pu_run.features[slide]))
        if not np.array_equal(coords, feature_coords):
            raise SlideError(slide, f"{pu_run.features[slide]} lists other tiles than its PU scores; rerun train_pu")
        mil_coords, evidence = mil[slide]
        rank = rank_within_slide(evidence) if np.array_equal(mil_coords, coords) else None
        scores[slide] = acquisition(probability, pu_run.thresholds[slide], rank)
        if slide in pu_run.corrected:
            own = read_corrected_labels(Path(pu_run.corrected[slide]), slide, coords)
            labelled[slide] = (own.tumor >= pu_run.tumor_threshold) | own.negative | own.ignored
        else:
            annotated = TileFile.read(manifest[slide]["tiles"]).annotated_tumor()
            labelled[slide] = np.zeros(len(coords), bool) if annotated is None else annotated >= pu_run.tumor_threshold
        features[slide] = values
    return scores, features, labelled


def ok_rows(slide_manifest: Path, qc_table: Path) -> dict[str, dict]:
    """The manifest's rows of the slides its cohort's QC table passes."""
    passed = read_manifest(qc_table)
    return {s: row for s, row in read_manifest(slide_manifest).items() if s in passed}


def run(
    slide_manifest: Path,
    qc_table: Path,
    splits_csv: Path,
    pu_scores: Path | None,
    mil_scores: list[Path],
    model: str,
    params: ReviewParams,
    out_dir: Path,
    pu_run: PURun | None = None,
    new_slides: tuple[Path, Path, Path] | None = None,
) -> None:
    """The QuPath project of every OK slide of the manifest (the QC table's; entries named by slide ID, image URIs
    the absolute slide files, metadata the slide's cohort, patient and label) and its layers in `out_dir`; with
    PU (`pu_run`), the review.regions_per_round tiles of positive slides to label next as layer `proposed` and
    `proposals.tsv` (slide, rank, tile, x, y, size, score). `new_slides` (the new cohort's manifest, QC table and
    the model's fold-ensemble tile scores) adds the new slides, with their tissue and MIL layers."""
    manifest = ok_rows(slide_manifest, qc_table)
    splits = read_splits(splits_csv)
    labels = dict(zip(splits["slide_id"], splits["label"], strict=False))
    pu = None
    if pu_scores is not None:
        pu = {name: read_tile_scores([pu_scores], name) for name in (PU_SCORE, PU_MASK)}
    cohorts = [(TRAIN_COHORT, manifest, pu, mil_scores)]
    if new_slides is not None:
        cohorts.append((NEW_COHORT, ok_rows(new_slides[0], new_slides[1]), None, [new_slides[2]]))
    entries, counts = [], {}
    for cohort, rows, cohort_pu, score_files in cohorts:
        mil, mil_box = read_tile_scores(score_files, MIL_SCORE), scored_box_size(score_files[0])
        if cohort == TRAIN_COHORT:
            train_mil = mil  # the proposals' PU-vs-MIL disagreement
        for slide, row in progress(rows.items(), f"review layers ({cohort})", "slide", len(rows)):
            metadata = {
                "slide_id": slide,
                "cohort": cohort,
                "patient_id": row["patient_id"] or "",
                "label": labels.get(slide) or "",
            }
            entries.append(image_entry(len(entries) + 1, slide, Path(row["slide"]), metadata))
            for layer, geojson in slide_layers(slide, row, cohort_pu, mil, mil_box, model, params).items():
                with atomic_output(layer_file(out_dir, slide, layer)) as tmp:
                    write_geojson(tmp, geojson)
                counts[layer] = counts.get(layer, 0) + len(geojson["features"])
    if pu is not None and pu_run is not None:
        counts[layers.PROPOSED_LAYER] = write_proposals(manifest, labels, pu, pu_run, train_mil, params, out_dir)
    write_project(out_dir, entries, REVIEW_CLASSES, int(time.time() * 1000))
    write_import_script(out_dir)
    log.info("QuPath project of %d slides in %s; regions per layer: %s", len(entries), out_dir, counts)


def write_proposals(manifest, labels, pu, pu_run: PURun, mil, params: ReviewParams, out_dir: Path) -> int:
    """The proposals layer of every slide and proposals.tsv; returns how many tiles were proposed."""
    positive = [s for s in manifest if labels.get(s) == pu_run.positive_class]
    scores, features, labelled = proposal_scores(manifest, positive, pu, pu_run, mil)
    picks = select_regions(scores, features, labelled, params.regions_per_round, params.diversity)
    rows = []
    for slide, row in manifest.items():
        tiles = TileFile.read(row["tiles"])
        coords = pu[PU_SCORE][slide][0]
        own = [(index, score, rank) for rank, (s, index, score) in enumerate(picks, start=1) if s == slide]
        geojson = layers.proposal_layer(own, coords, tiles.size0, tiles.level0_size, slide)
        with atomic_output(layer_file(out_dir, slide, layers.PROPOSED_LAYER)) as tmp:
            write_geojson(tmp, geojson)
        rows += [
            {
                "slide_id": slide,
                "rank": rank,
                "tile": index,
                "x": int(coords[index][0]),
                "y": int(coords[index][1]),
                "size_level0": tiles.size0,
                "score": round(score, 4),
            }
            for index, score, rank in own
        ]
    with atomic_output(Path(out_dir) / PROPOSALS_FILE) as tmp:
        pd.DataFrame(rows, columns=PROPOSAL_COLUMNS).sort_values("rank").to_csv(tmp, sep="\t", index=False)
    return len(picks)
