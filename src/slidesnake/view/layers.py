"""Overlays drawn per view tile: a layer's file is loaded once into a small raster (one cell per tile of the grid,
one pixel per mask pixel) and every view tile samples it at its own level-0 box, so that memory never depends on
the zoom level or on the slide's level-0 size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import h5py
import numpy as np

from slidesnake.core.errors import InputFileError
from slidesnake.core.labels import TISSUE as TISSUE_LABEL
from slidesnake.core.labels import TUMOR
from slidesnake.io.annotations import read_label_mask
from slidesnake.io.tile_classes import read_tile_classes
from slidesnake.io.tile_file import COORDS, TileFile
from slidesnake.io.tile_scores import rank_within_slide, scored_box_size
from slidesnake.view.results import CLASSES, GRID, LABELS, RAW_SCORES, SCORES, TISSUE, Layer

COLORMAPS = {
    "viridis": cv2.COLORMAP_VIRIDIS,
    "magma": cv2.COLORMAP_MAGMA,
    "inferno": cv2.COLORMAP_INFERNO,
    "turbo": cv2.COLORMAP_TURBO,
    "jet": cv2.COLORMAP_JET,
    "hot": cv2.COLORMAP_HOT,
}
DEFAULT_COLORMAP = "viridis"
LABEL_COLOURS = {TISSUE_LABEL: (40, 120, 255), TUMOR: (255, 40, 40)}  # RGB of annotation / truth labels
TISSUE_COLOUR = (0, 200, 80)
GRID_COLOUR = (255, 230, 0)
CLASS_COLOURS = [(228, 26, 28), (55, 126, 184), (77, 175, 74), (152, 78, 163), (255, 127, 0), (166, 86, 40)]
CLASS_COLOURS += [(247, 129, 191), (153, 153, 153), (255, 255, 51), (0, 0, 0)]


@dataclass
class Raster:
    """Values on a regular grid over level 0: cell (row, col) covers level-0 x in [ox + col * cx, ox + (col + 1) * cx),
    and likewise y; NaN (floats) or -1 (ints) where nothing is. `box0`: the level-0 side of the tiles (the grid's
    outlines), `classes`: the class names of a tile-class raster's values."""

    values: np.ndarray
    origin: tuple[float, float]
    cell: tuple[float, float]
    box0: float | None = None
    classes: list[str] | None = None

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)

    def sample(self, x0: float, y0: float, w0: float, h0: float, width: int, height: int) -> tuple:
        """The cell values under each output pixel of a level-0 box drawn at width x height, and each pixel's
        position inside its cell (level-0 px), for outlines."""
        xs = x0 + (np.arange(width) + 0.5) * (w0 / width) - self.origin[0]
        ys = y0 + (np.arange(height) + 0.5) * (h0 / height) - self.origin[1]
        cols, rows = np.floor(xs / self.cell[0]).astype(np.int64), np.floor(ys / self.cell[1]).astype(np.int64)
        ok_c = (cols >= 0) & (cols < self.values.shape[1])
        ok_r = (rows >= 0) & (rows < self.values.shape[0])
        fill = np.nan if self.values.dtype.kind == "f" else -1
        out = np.full((height, width), fill, self.values.dtype)
        out[np.ix_(ok_r, ok_c)] = self.values[np.ix_(rows[ok_r], cols[ok_c])]
        return out, xs - cols * self.cell[0], ys - rows * self.cell[1]


def grid_raster(coords: np.ndarray, values: np.ndarray, box0: float, stride0: float | None = None) -> Raster:
    """Tile values on the tiles' grid (step `stride0`, default the tile side); a tile's cell is its top-left
    corner's."""
    coords = np.asarray(coords, np.int64).reshape(-1, 2)
    step = float(stride0 or box0)
    if not len(coords):
        return Raster(np.full((1, 1), np.nan, np.float32), (0.0, 0.0), (step, step), box0)
    origin = coords.min(0) % step
    cells = np.floor((coords - origin) / step).astype(np.int64)
    shape = cells[:, 1].max() + 1, cells[:, 0].max() + 1
    fill = np.nan if np.asarray(values).dtype.kind == "f" else -1
    raster = np.full(shape, fill, np.asarray(values).dtype)
    raster[cells[:, 1], cells[:, 0]] = values
    return Raster(raster, (float(origin[0]), float(origin[1])), (step, step), box0)


def mask_raster(labels: np.ndarray, level0_size: tuple[int, int]) -> Raster:
    """A label image covering the whole slide at any downsample."""
    height, width = labels.shape[:2]
    return Raster(labels.astype(np.int16), (0.0, 0.0), (level0_size[0] / width, level0_size[1] / height))


def load(layer: Layer, level0_size: tuple[int, int], tiles: TileFile | None) -> Raster:
    """A layer's raster (raises InputFileError, OSError or KeyError for a file that cannot be used)."""
    if layer.kind in (TISSUE, LABELS):
        labels = read_label_mask(layer.file)
        if layer.kind == TISSUE:
            labels = np.where(labels > 0, TISSUE_LABEL, 0).astype(np.uint8)
        return mask_raster(labels, level0_size)
    if layer.kind == GRID:
        tiles = TileFile.read(layer.file)
        return grid_raster(tiles.coords, np.arange(len(tiles), dtype=np.int64), tiles.size0, tiles.stride0)
    stride = tiles.stride0 if tiles is not None else None
    if layer.kind == SCORES:
        with h5py.File(layer.file, "r") as h5:
            group = h5[layer.group]
            coords, values = group[COORDS][:], group[layer.score][:].astype(np.float64)
        box0 = scored_box_size(layer.file) or (tiles.size0 if tiles is not None else None)
        if box0 is None:
            raise InputFileError(layer.file, "records no tile size and the slide has no tiles file")
        shown = values if layer.score in RAW_SCORES else rank_within_slide(values)
        return grid_raster(
            coords,
            np.clip(shown, 0, 1).astype(np.float32),
            box0,
            stride if tiles is not None and box0 == tiles.size0 else None,
        )
    coords, probabilities, classes = read_tile_classes(layer.file)  # CLASSES
    if tiles is None:
        raise InputFileError(layer.file, "the slide's tiles file is needed for the tile size")
    raster = grid_raster(coords, probabilities.argmax(1).astype(np.int64), tiles.size0, tiles.stride0)
    raster.classes = classes
    return raster


def render(layer: Layer, raster: Raster, box: tuple[float, float, float, float], size: tuple[int, int], cmap: str):
    """RGBA uint8 (height x width x 4) of a layer over a level-0 box drawn at `size`; transparent where empty."""
    width, height = size
    values, dx, dy = raster.sample(*box, width, height)
    rgba = np.zeros((height, width, 4), np.uint8)
    if layer.kind == SCORES:
        valid = ~np.isnan(values)
        lut = cv2.applyColorMap(
            np.arange(256, dtype=np.uint8)[:, None], COLORMAPS.get(cmap, COLORMAPS[DEFAULT_COLORMAP])
        )
        index = np.clip(np.nan_to_num(values) * 255 + 0.5, 0, 255).astype(np.uint8)
        rgba[..., :3] = lut[index, 0, ::-1]
        rgba[..., 3] = np.where(valid, 255, 0)
    elif layer.kind in (TISSUE, LABELS):
        colours = {TISSUE_LABEL: TISSUE_COLOUR} if layer.kind == TISSUE else LABEL_COLOURS
        for label, colour in colours.items():
            hit = values == label
            rgba[hit] = (*colour, 255)
    elif layer.kind == CLASSES:
        for index in range(len(raster.classes or [])):
            rgba[values == index] = (*CLASS_COLOURS[index % len(CLASS_COLOURS)], 255)
    elif layer.kind == GRID:
        line0 = max(box[2] / width, box[3] / height) * 1.5  # 1.5 screen pixels in level-0 px
        side = raster.box0 or raster.cell[0]
        if side < 4 * line0:  # tiles under 6 screen pixels: outlines would paint them solid; zoom in to see them
            return rgba
        edge_x = (dx < line0) | ((dx > side - line0) & (dx < side))
        edge_y = (dy < line0) | ((dy > side - line0) & (dy < side))
        edge = (values >= 0) & (edge_x[None, :] | edge_y[:, None])
        rgba[edge] = (*GRID_COLOUR, 255)
    return rgba


def legend(layer: Layer, raster: Raster | None) -> list[dict]:
    """Colour keys of a categorical layer (label masks, tile classes); empty for scores and the grid."""
    if layer.kind == TISSUE:
        return [{"name": "tissue", "rgb": TISSUE_COLOUR}]
    if layer.kind == LABELS:
        return [{"name": "tissue", "rgb": LABEL_COLOURS[TISSUE_LABEL]}, {"name": "tumor", "rgb": LABEL_COLOURS[TUMOR]}]
    if layer.kind == CLASSES and raster is not None:
        return [{"name": c, "rgb": CLASS_COLOURS[i % len(CLASS_COLOURS)]} for i, c in enumerate(raster.classes or [])]
    return []


def encode_png(rgba: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("PNG encoding failed")
    return data.tobytes()
