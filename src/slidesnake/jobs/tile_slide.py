"""Rule tile_slide: the tile grid of one slide from its tissue mask (no slide reads), or the tiles of its CLAM or
TRIDENT patch file (tiling.import_coordinates), annotation fractions, the tiles file and a QC picture."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import FieldOfViewError, InputFileError, SlideError, SlidesnakeError
from slidesnake.core.labels import TISSUE, TUMOR
from slidesnake.core.provenance import provenance_attrs
from slidesnake.figures.qc import BLUE, RED, draw_tiles, notice_picture, write_rgb
from slidesnake.io.annotations import read_label_mask
from slidesnake.io.exclusion import TILING_STAGE, Exclusion
from slidesnake.io.imports import read_clam, read_trident
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.tile_file import TileFile, tile_attrs
from slidesnake.tissue.params import TilingParams
from slidesnake.tissue.tiling import TileGrid, imported_grid, label_fractions, make_grid, mask_downsample
from slidesnake.workflow import paths

log = logging.getLogger(__name__)
ANNOTATED_TUMOR_QC = 0.5  # QC picture: tiles with at least this annotated tumor share are drawn red
READERS = {paths.CLAM: read_clam, paths.TRIDENT: read_trident}
FIELD_OF_VIEW_TOLERANCE = 0.01  # imported tiles may span this share more or less than the configured ones


def annotation_fractions(slide_id: str, annotation_path: Path, grid: TileGrid, level0: tuple[int, int]) -> np.ndarray:
    """N x 3 shares of background, tissue and tumor of every tile in the annotation mask."""
    labels = read_label_mask(annotation_path)
    try:
        downsample = mask_downsample(labels.shape, level0, f"annotation mask {annotation_path}")
    except InputFileError as error:
        raise SlideError(slide_id, str(error)) from None
    labelled = label_fractions(labels, downsample, grid.coords, grid.size0, (TISSUE, TUMOR))
    return np.column_stack([1 - labelled.sum(1), labelled]).astype(np.float32)


def import_tiles(slide_id: str, mask: np.ndarray, info: MaskInfo, imported: tuple[str, Path], params: TilingParams):
    """Every tile of the slide's patch file of tool `imported[0]`, at the configured level-0 side and with its
    tissue fraction in the mask; a FieldOfViewError unless the file's tiles span the configured tile_px x mpp
    within 1% (the peer's side carries the pyramid's rounding, e.g. CLAM's patch_size x 2.0005, so the
    configured side is the one read: imported and native tiles are encoded alike)."""
    tool, path = imported
    tiles = READERS[tool](path, slide_id, info.level0_size, info.level_downsamples)
    imported_um, configured_um = tiles.size0 * info.mpp, params.tile_px * params.mpp
    if abs(imported_um / configured_um - 1) > FIELD_OF_VIEW_TOLERANCE:
        raise FieldOfViewError(slide_id, path, imported_um, configured_um)
    return imported_grid(tiles.coords, mask, tuple(info.mask_downsample), info.level0_size, info.mpp, params)


def tile_grid(
    slide_id: str,
    mask_png: Path,
    info: MaskInfo,
    annotation_path: Path | None,
    params: TilingParams,
    min_tiles: int,
    imported: tuple[str, Path] | None = None,
) -> tuple[TileGrid, np.ndarray | None]:
    """The kept tile grid (or the imported tiles: tool, patch file) and its annotation fractions; a SlideError
    for fewer than `min_tiles` tiles or an annotation mask that does not fit the slide."""
    mask = cv2.imread(str(mask_png), cv2.IMREAD_GRAYSCALE) > 127
    if imported is None:
        grid = make_grid(mask, tuple(info.mask_downsample), info.level0_size, info.mpp, params)
        found = f"{len(grid.coords)} tiles reach {100 * params.min_tissue:.0f}% tissue"
    else:
        grid = import_tiles(slide_id, mask, info, imported, params)
        found = f"{imported[1]} has {len(grid.coords)} tiles"
    if len(grid.coords) < min_tiles:
        raise SlideError(slide_id, f"{found}, fewer than qc.min_tiles {min_tiles}")
    if annotation_path is None:
        return grid, None
    return grid, annotation_fractions(slide_id, annotation_path, grid, info.level0_size)


def write_excluded(
    slide_id: str, info: MaskInfo, exclusion: Exclusion, params: TilingParams, tiles_h5: Path, qc_jpg: Path
):
    """The outputs of a slide the tiling excludes: a tiles file with no tiles and the exclusion as attributes,
    and a QC picture that says why."""
    exclusion.warn(slide_id)
    attrs = tile_attrs(
        info,
        tile_px=params.tile_px,
        tile_px_level0=0,
        stride_level0=0,
        overlap_px=params.overlap_px,
        target_mpp=params.mpp,
        min_tissue=params.min_tissue,
        grid_shape=(0, 0),
    )
    empty = np.zeros((0, 2), np.int64)
    TileFile(empty, {**attrs, **exclusion.attrs(), **provenance_attrs(asdict(params))}, np.zeros(0), empty).write(
        tiles_h5
    )
    picture = notice_picture([f"slide {slide_id}", f"excluded: {exclusion.reason}", f"file: {exclusion.source}"])
    with atomic_output(qc_jpg) as tmp:
        write_rgb(tmp, picture)


def run(
    slide_id: str,
    mask_png: Path,
    mask_json: Path,
    thumbnail_jpg: Path,
    annotation_path: Path | None,
    params: TilingParams,
    tiles_h5: Path,
    qc_jpg: Path,
    min_tiles: int = 0,
    strict: bool = True,
    source: str = "",
    imported: tuple[str, Path] | None = None,
) -> TileGrid | None:
    """Tile one slide: keep grid tiles whose tissue share reaches `params.min_tissue` (or every tile of
    `imported`, a tool's patch file: clam or trident, path); write the tiles file and a QC picture of the kept
    tiles (annotated tumor tiles red). A slide its mask job excluded, or with fewer than `min_tiles` tiles (or an
    annotation mask that does not fit, or an unusable patch file), gets a tiles file with no tiles that records
    the exclusion (`strict`: such a slide fails with its SlideError; `source`: the user's file, for the record).
    A patch file of another field of view fails with its FieldOfViewError in any case: the import or the
    tiling config is wrong, not the slide."""
    info = MaskInfo.read(mask_json)
    if info.exclusion is not None:
        write_excluded(slide_id, info, info.exclusion, params, tiles_h5, qc_jpg)
        return None
    level0 = info.level0_size
    try:
        grid, annotation = tile_grid(slide_id, mask_png, info, annotation_path, params, min_tiles, imported)
    except FieldOfViewError:
        raise
    except (SlidesnakeError, OSError) as error:  # the slide's (or its annotation mask's) fault
        if strict:
            raise
        write_excluded(slide_id, info, Exclusion(TILING_STAGE, str(error), source), params, tiles_h5, qc_jpg)
        return None
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
        min_tissue=params.min_tissue if imported is None else 0.0,  # imported: every tile of the file is kept
        grid_shape=grid.grid_shape,
        imported=("", "") if imported is None else (imported[0], str(imported[1])),
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
    rows, cols = grid.grid_shape
    log.info(
        "slide '%s': %d tiles of %d px at %.3f um/px (%d px at level 0) %s",
        slide_id,
        len(grid.coords),
        params.tile_px,
        params.mpp,
        grid.size0,
        f"out of a {rows} x {cols} grid" if imported is None else f"from {imported[0]} {imported[1]}",
    )
    return grid
