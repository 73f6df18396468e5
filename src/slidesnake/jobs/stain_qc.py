"""Rule stain_qc: a grid of tiles from several slides before and after stain normalisation (in the report)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from slidesnake.core.errors import ConfigError
from slidesnake.figures.stain_qc import save_stain_grid
from slidesnake.stain.normalise import StainNormaliser, StainReference
from slidesnake.stain.params import StainParams
from slidesnake.stain.sample import sample_tiles

log = logging.getLogger(__name__)
QC_TILES = 4  # tiles per slide in the grid
QC_SEED_OFFSET = 1  # other tiles than the reference was fitted on


def as_images(tiles: torch.Tensor):
    return tiles.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def run(reference_json: Path, params: StainParams, slides: dict[str, dict], out_jpg: Path) -> None:
    """Sample QC_TILES tiles of each slide (slide -> {"slide", "tiles"}), normalise them, draw the grid."""
    reference = StainReference.read(reference_json)
    normalise = StainNormaliser(reference)
    rows = []
    for slide, files in slides.items():
        tiles = sample_tiles(
            files["slide"], files["tiles"], slide, QC_TILES, params.fit_px, params.seed + QC_SEED_OFFSET
        )
        if len(tiles):
            rows.append((slide, as_images(tiles), as_images(normalise(tiles))))
    if not rows:
        raise ConfigError("stain.qc_slides", f"none of the QC slides {list(slides)} has tiles")
    save_stain_grid(out_jpg, rows, f"{reference.method} normalisation to {reference.source}")
    log.info("stain QC grid of %d slides: %s", len(rows), out_jpg)
