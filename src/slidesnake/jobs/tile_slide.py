"""Rule tile_slide: the tile grid of one slide from its tissue mask (no slide reads), annotation fractions,
the tiles file and a QC picture."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import InputFileError, SlideError
from slidesnake.core.labels import TISSUE, TUMOR
from slidesnake.core.provenance import provenance_attrs
from slidesnake.figures.qc import BLUE, RED, draw_tiles, write_rgb
from slidesnake.io.annotations import read_label_mask
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.tile_file import TileFile, tile_attrs
from slidesnake.tissue.params import TilingParams
from slidesnake.tissue.tiling import TileGrid, label_fractions, make_grid, mask_downsample

log = logging.getLogger(__name__)
ANNOTATED_TUMOR_QC = 0.5  # QC picture: tiles with at least this annotated tumor share are drawn red


def annotation_fractions(slide_id: str, annotation_path: Path, grid: TileGrid, level0: tuple[int, int]) -> np.ndarray:
    """N x 3 shares of background, tissue and tumor of every tile in the annotation mask."""
    labels = read_label_mask(annotation_path)
    try:
        downsample = mask_downsample(labels.shape, level0, f"annotation mask {annotation_path}")
    except InputFileError as error:
        raise SlideError(slide_id, str(error)) from None
    labelled = label_fractions(labels, downsample, grid.coords, grid.size0, (TISSUE, TUMOR))
    return np.column_stack([1 - labelled.sum(1), labelled]).astype(np.float32)


def run(
    slide_id: str,
    mask_png: Path,
    mask_json: Path,
    thumbnail_jpg: Path,
    annotation_path: Path | None,
    params: TilingParams,
    tiles_h5: Path,
    qc_jpg: Path,
) -> TileGrid:
    """Tile one slide: keep grid tiles whose tissue share reaches `params.min_tissue`; write the tiles file
    and a QC picture of the kept grid (annotated tumor tiles red)."""
    info = MaskInfo.read(mask_json)
    mask = cv2.imread(str(mask_png), cv2.IMREAD_GRAYSCALE) > 127
    level0 = info.level0_size
    grid = make_grid(mask, tuple(info.mask_downsample), level0, info.mpp, params)
    annotation = None if annotation_path is None else annotation_fractions(slide_id, annotation_path, grid, level0)
    if not len(grid.coords):
        log.warning(
            "slide '%s': no tile reaches %.0f%% tissue; writing an empty tile file", slide_id, 100 * params.min_tissue
        )
    attrs = tile_attrs(
        info,
        tile_px=params.tile_px,
        tile_px_level0=grid.size0,
        stride_level0=grid.stride0,
        overlap_px=params.overlap_px,
        target_mpp=params.mpp,
        min_tissue=params.min_tissue,
        grid_shape=grid.grid_shape,
    )
    TileFile(
        grid.coords, {**attrs, **provenance_attrs(asdict(params))}, grid.tissue_fraction, grid.row_col, annotation
    ).write(tiles_h5)
    thumbnail = cv2.cvtColor(cv2.imread(str(thumbnail_jpg)), cv2.COLOR_BGR2RGB)
    colours = None
    if annotation is not None:
        colours = np.where(annotation[:, TUMOR : TUMOR + 1] >= ANNOTATED_TUMOR_QC, [RED], [BLUE])
    with atomic_output(qc_jpg) as tmp:
        write_rgb(tmp, draw_tiles(thumbnail, grid.coords, grid.size0, level0[0] / thumbnail.shape[1], colours))
    log.info(
        "slide '%s': %d tiles of %d px at %.3f um/px (%d px at level 0) out of a %d x %d grid",
        slide_id,
        len(grid.coords),
        params.tile_px,
        params.mpp,
        grid.size0,
        *grid.grid_shape,
    )
    return grid
