"""Rule tile_slide: the tile grid of one slide from its tissue mask, or the tiles of its CLAM or TRIDENT patch file
(tiling.import_coordinates), annotation fractions, the artefact QC (every tile measured at qc.artefact_mpp from a
coarse pyramid level, artefact tiles dropped, the slide gated: tissue/artefacts.py), the tiles file and QC
pictures (tiles; artefacts, with their QuPath GeoJSON)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import FieldOfViewError, InputFileError, SlideError, SlidesnakeError
from slidesnake.core.labels import TISSUE, TUMOR
from slidesnake.core.provenance import provenance_attrs
from slidesnake.figures.qc import (
    ARTEFACT_COLOURS,
    BLUE,
    RED,
    artefact_picture,
    draw_tiles,
    kind_cells,
    notice_picture,
    write_rgb,
)
from slidesnake.io.annotations import read_label_mask
from slidesnake.io.exclusion import TILING_STAGE, Exclusion
from slidesnake.io.geojson import feature_collection, mask_polygons, write_geojson
from slidesnake.io.imports import read_clam, read_trident
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import DroppedTiles, TileFile, tile_attrs
from slidesnake.tissue.artefacts import ARTEFACTS, SlideQc, TileMeasures, artefact_flags, measure_slide, slide_qc
from slidesnake.tissue.params import ArtefactParams, TilingParams
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


GEOJSON_CELL_SPLIT = 4  # artefact polygons trace tile cells split in 4 x 4: vertices within 1/8 tile of the edge


@dataclass
class Artefacts:
    """The artefact QC of a slide's tile grid: every tile's measures, its artefact flags and the slide summary."""

    measures: TileMeasures
    flags: np.ndarray
    qc: SlideQc

    def dropped(self, grid: TileGrid) -> DroppedTiles:
        bad = self.flags > 0
        return DroppedTiles(
            grid.coords[bad], grid.tissue_fraction[bad], grid.row_col[bad], self.measures.take(bad), self.flags[bad]
        )


def measure_artefacts(slide_path: Path, info: MaskInfo, grid: TileGrid, params: ArtefactParams) -> Artefacts:
    """Measure every tile of `grid` at params.artefact_mpp (read from the nearest pyramid level) and flag the
    artefact tiles at the thresholds of `params`."""
    start = time.perf_counter()
    with Slide(slide_path, info.slide_id, require_mpp=False) as slide:
        measures = measure_slide(slide, grid.coords, grid.size0, info.mpp, params.artefact_mpp)
    flags = artefact_flags(measures, params)
    qc = slide_qc(measures, flags, grid.tissue_fraction)
    seconds = time.perf_counter() - start
    kinds = ", ".join(f"{k} {100 * v:.1f}%" for k, v in qc.kind_shares.items())
    log.info(
        "slide '%s': %d of %d tiles are artefacts (%.1f%% of the tissue: %s), median focus %.2f; measured in %.2f s",
        info.slide_id,
        qc.dropped,
        len(grid.coords),
        100 * qc.artefact_share,
        kinds,
        qc.median_focus,
        seconds,
    )
    return Artefacts(measures, flags, qc)


def write_artefact_outputs(
    slide_id: str,
    thumbnail_jpg: Path,
    info: MaskInfo,
    grid: TileGrid | None,
    artefacts: Artefacts | None,
    note: str,
    picture_jpg: Path,
    geojson: Path,
) -> None:
    """The artefact QC picture (artefact tiles outlined per kind over the thumbnail, with a legend; `note`: what
    happened to the slide) and the artefact tiles' outlines as QuPath GeoJSON, one classification per kind."""
    collection = feature_collection([], "artefact", (0, 0, 0))
    if artefacts is None or grid is None:
        picture = notice_picture([f"slide {slide_id}", note])
    else:
        thumbnail = cv2.cvtColor(cv2.imread(str(thumbnail_jpg)), cv2.COLOR_BGR2RGB)
        shape = grid.grid_shape
        row_col = np.clip(grid.row_col, 0, np.array(shape) - 1)
        cells = {k: kind_cells(artefacts.flags, row_col, shape, bit) for bit, k in enumerate(ARTEFACTS)}
        lines = [
            (f"{kind}: {int(cells[kind].sum())} tiles, {100 * artefacts.qc.kind_shares[kind]:.1f}% of tissue", colour)
            for kind, colour in ARTEFACT_COLOURS.items()
        ]
        lines.append((f"{slide_id}: {artefacts.qc.dropped} of {len(grid.coords)} tiles dropped; {note}", None))
        downsample = info.level0_width / thumbnail.shape[1]
        picture = artefact_picture(thumbnail, cells, grid.stride0, grid.size0, downsample, lines)
        split = GEOJSON_CELL_SPLIT
        step = grid.stride0 / split
        for kind, grid_cells in cells.items():
            fine = np.kron(grid_cells, np.ones((split, split), bool))
            polygons = mask_polygons(fine, (step, step))
            part = feature_collection(polygons, f"artefact: {kind}", ARTEFACT_COLOURS[kind], {"artefact": kind})
            collection["features"].extend(part["features"])
    with atomic_output(picture_jpg) as tmp:
        write_rgb(tmp, picture)
    with atomic_output(geojson) as tmp:
        write_geojson(tmp, collection)


def write_excluded(
    slide_id: str,
    info: MaskInfo,
    exclusion: Exclusion,
    params: TilingParams,
    tiles_h5: Path,
    qc_jpg: Path,
    artefacts: tuple[DroppedTiles, dict] | None = None,
):
    """The outputs of a slide the tiling excludes: a tiles file with no tiles and the exclusion as attributes
    (and, when the artefact gate excluded it, its artefact tiles and summary), and a QC picture that says why."""
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
    dropped, summary = artefacts or (None, {})
    all_attrs = {**attrs, **summary, **exclusion.attrs(), **provenance_attrs(asdict(params))}
    TileFile(empty, all_attrs, np.zeros(0), empty, dropped=dropped).write(tiles_h5)
    picture = notice_picture([f"slide {slide_id}", f"excluded: {exclusion.reason}", f"file: {exclusion.source}"])
    with atomic_output(qc_jpg) as tmp:
        write_rgb(tmp, picture)


def keep_clean(grid: TileGrid, annotation: np.ndarray | None, artefacts: Artefacts):
    """The grid and annotation fractions of the tiles without artefacts."""
    clean = artefacts.flags == 0
    kept = replace(
        grid, coords=grid.coords[clean], tissue_fraction=grid.tissue_fraction[clean], row_col=grid.row_col[clean]
    )
    return kept, None if annotation is None else annotation[clean]


def gate(slide_id: str, artefacts: Artefacts, params: ArtefactParams, min_tiles: int) -> None:
    """A SlideError when the slide-level artefact gate excludes the slide, or too few clean tiles remain."""
    reason = artefacts.qc.gate(params)
    clean = int((artefacts.flags == 0).sum())
    if reason is None and clean < min_tiles:
        reason = (
            f"{clean} tiles without artefacts ({artefacts.qc.dropped} dropped), fewer than qc.min_tiles {min_tiles}"
        )
    if reason is not None:
        raise SlideError(slide_id, reason)


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
    slide_path: Path | None = None,
    artefact_params: ArtefactParams | None = None,
    artefact_jpg: Path | None = None,
    artefact_geojson: Path | None = None,
) -> TileGrid | None:
    """Tile one slide: keep grid tiles whose tissue share reaches `params.min_tissue` (or every tile of
    `imported`, a tool's patch file: clam or trident, path); with `artefact_params` (qc.artefacts on) measure
    every tile on `slide_path`, drop the artefact tiles (recorded in the tiles file's `dropped` group) and exclude
    the slide when its artefact share or median focus fails the slide gate; write the tiles file, a QC picture
    of the kept tiles (annotated tumor tiles red) and, when given, the artefact picture and GeoJSON. A slide its
    mask job excluded, or with fewer than `min_tiles` clean tiles (or an annotation mask that does not fit, or
    an unusable patch file, or failing the artefact gate), gets a tiles file with no tiles that records the
    exclusion (`strict`: such a slide fails with its SlideError; `source`: the user's file, for the record).
    A patch file of another field of view fails with its FieldOfViewError in any case: the import or the
    tiling config is wrong, not the slide."""
    info = MaskInfo.read(mask_json)
    measuring = artefact_params is not None and artefact_params.artefacts
    grid = artefacts = None

    def artefact_outputs(note: str) -> None:
        if artefact_jpg is not None:
            write_artefact_outputs(slide_id, thumbnail_jpg, info, grid, artefacts, note, artefact_jpg, artefact_geojson)

    if info.exclusion is not None:
        write_excluded(slide_id, info, info.exclusion, params, tiles_h5, qc_jpg)
        artefact_outputs(f"excluded: {info.exclusion.reason}")
        return None
    level0 = info.level0_size
    try:
        grid, annotation = tile_grid(
            slide_id, mask_png, info, annotation_path, params, 0 if measuring else min_tiles, imported
        )
        if measuring:
            artefacts = measure_artefacts(slide_path, info, grid, artefact_params)
            gate(slide_id, artefacts, artefact_params, min_tiles)
    except FieldOfViewError:
        raise
    except (SlidesnakeError, OSError) as error:  # the slide's (or its annotation mask's) fault
        if strict:
            artefact_outputs(f"failed: {error}")
            raise
        exclusion = Exclusion(TILING_STAGE, str(error), source)
        recorded = None if artefacts is None else (artefacts.dropped(grid), artefacts.qc.attrs())
        write_excluded(slide_id, info, exclusion, params, tiles_h5, qc_jpg, recorded)
        artefact_outputs(f"excluded: {exclusion.reason}")
        return None
    if not len(grid.coords):
        log.warning(
            "slide '%s': no tile reaches %.0f%% tissue; writing an empty tile file", slide_id, 100 * params.min_tissue
        )
    dropped, measures, summary = None, None, {}
    if artefacts is not None:
        artefact_outputs(f"{100 * artefacts.qc.artefact_share:.1f}% of the tissue dropped")
        dropped, measures, summary = (
            artefacts.dropped(grid),
            artefacts.measures.take(artefacts.flags == 0),
            artefacts.qc.attrs(),
        )
        grid, annotation = keep_clean(grid, annotation, artefacts)
    else:
        artefact_outputs("artefact QC off (qc.artefacts: false)")
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
        grid.coords,
        {**attrs, **summary, **provenance_attrs(asdict(params))},
        grid.tissue_fraction,
        grid.row_col,
        annotation,
        measures,
        dropped,
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
