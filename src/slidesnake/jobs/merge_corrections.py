"""Rule merge_corrections: one slide's QuPath corrections (review.corrections/{slide}.geojson) merged into its
annotation (slidesnake.review.corrections), as a corrected label mask and the tile labels PU and MIL train on."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2

from slidesnake.core.atomic import atomic_output
from slidesnake.io.annotations import read_label_mask
from slidesnake.io.corrected_labels import FRACTION_LABELS, write_corrected_labels
from slidesnake.io.tile_file import TileFile
from slidesnake.review.corrections import merge, read_corrections
from slidesnake.tissue.tiling import label_fractions, mask_downsample

log = logging.getLogger(__name__)

MASK_STEPS_PER_TILE = 8  # corrected-mask pixels per tile-grid step


def run(
    slide: str,
    tiles_path: Path,
    annotation_path: Path | None,
    corrections_path: Path | None,
    mask_png: Path,
    labels_h5: Path,
) -> dict:
    """The corrected label mask (PNG; core.labels BACKGROUND, TUMOR, CONFIRMED_NEGATIVE, IGNORED) and the tiles'
    corrected label shares of one slide; the user's annotation and corrections files are only read. Returns the
    merge report."""
    tiles = TileFile.read(tiles_path)
    annotation = None
    if annotation_path is not None:
        annotation = read_label_mask(annotation_path)
        mask_downsample(annotation.shape, tiles.level0_size, f"annotation mask {annotation_path}")
    corrections, skipped = ([], 0)
    if corrections_path is not None:
        corrections, skipped = read_corrections(corrections_path, slide, tiles.level0_size)
    downsample = tiles.stride0 / MASK_STEPS_PER_TILE
    labels, report = merge(annotation, corrections, tiles.level0_size, downsample)
    report |= {"slide_id": slide, "reference_features_skipped": skipped, "downsample": downsample}
    for tumor, benign in report["conflicts"]:
        log.warning("%s: Tumor %s and Benign %s overlap: their overlap is ignored", slide, tumor, benign)
    fractions = label_fractions(labels, (downsample, downsample), tiles.coords, tiles.size0, FRACTION_LABELS)
    with atomic_output(mask_png) as tmp:
        cv2.imwrite(str(tmp), labels)
    write_corrected_labels(labels_h5, tiles.coords, fractions, report)
    log.info("%s: corrections merged %s", slide, report)
    return report
