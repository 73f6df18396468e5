"""The tiles file contract, `results/tiles/{slide}.h5`: one writer and one reader.

Datasets: `coords` (int64, N x 2, level-0 x, y of each tile's top-left corner, row-major spatial order),
`tissue_fraction` (N), `grid_row_col` (N x 2) and, with an annotation mask, `annotation_fraction`
(N x 3, shares of background / tissue / tumor; attribute `classes`). With the artefact QC (qc.artefacts): the
tiles' measures `qc_focus`, `qc_pen`, `qc_fold`, `qc_white` (N, tissue/artefacts.py says what each measures), and
the group `dropped` holding the artefact tiles left out of `coords` (never encoded): `coords`, `tissue_fraction`,
`grid_row_col`, the four measures and `artefact_flags` (uint8, bit k: kind k of its attribute `kinds`: blur,
pen, fold, white); the slide's artefact summary is in attributes (ARTEFACT_ATTRS: artefact_share, the share
per kind, median_focus, dropped_tiles).

Attributes (on the file and on `coords`), each with exactly one meaning:
  tile_px          tile side in pixels at target_mpp (what an encoder sees before its own resize)
  tile_px_level0   tile side in level-0 pixels: the field of view read for every tile
  stride_level0    grid step in level-0 pixels; overlap_px: overlap at target_mpp
  target_mpp       microns per pixel of the tiles; mpp_level0 / mpp_source: the slide's and where it came from
  level0_width, level0_height, level_downsamples: the slide's pyramid
  min_tissue, mask_threshold, grid_rows, grid_cols, slide_id, and provenance (slidesnake_version,
  code_hash, params_json).
  imported_from, imported_file: the tool (clam, trident) and patch file the coordinates came from
  (tiling.import_coordinates); empty for the workflow's own grid.
An excluded slide's file has no tiles and the exclusion's attributes (slidesnake.io.exclusion: status, stage,
reason, source); an OK slide's has none of them.
No CLAM / TRIDENT `patch_size`: it means different things in those tools; `snakemake export` writes
each tool its own exact layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.core.labels import LABEL_NAMES, TUMOR
from slidesnake.io.mask_info import MaskInfo
from slidesnake.tissue.artefact_names import ARTEFACTS, MEASURES, SUMMARY_KEYS
from slidesnake.tissue.artefacts import TileMeasures

COORDS = "coords"
TISSUE_FRACTION = "tissue_fraction"
GRID_ROW_COL = "grid_row_col"
ANNOTATION_FRACTION = "annotation_fraction"
DROPPED = "dropped"  # group of the artefact tiles
ARTEFACT_FLAGS = "artefact_flags"
KINDS = "kinds"
MEASURE_DATASETS = {m: f"qc_{m}" for m in MEASURES}
ARTEFACT_ATTRS = SUMMARY_KEYS
(
    SLIDE_ID,
    TILE_PX,
    TILE_PX_LEVEL0,
    STRIDE_LEVEL0,
    OVERLAP_PX,
    TARGET_MPP,
    MPP_LEVEL0,
    MPP_SOURCE,
    LEVEL0_WIDTH,
    LEVEL0_HEIGHT,
    LEVEL_DOWNSAMPLES,
    MIN_TISSUE,
    MASK_THRESHOLD,
    GRID_ROWS,
    GRID_COLS,
    IMPORTED_FROM,
    IMPORTED_FILE,
) = ATTRIBUTES = (
    "slide_id",
    "tile_px",
    "tile_px_level0",
    "stride_level0",
    "overlap_px",
    "target_mpp",
    "mpp_level0",
    "mpp_source",
    "level0_width",
    "level0_height",
    "level_downsamples",
    "min_tissue",
    "mask_threshold",
    "grid_rows",
    "grid_cols",
    "imported_from",
    "imported_file",
)


def tile_attrs(
    mask: MaskInfo,
    *,
    tile_px: int,
    tile_px_level0: int,
    stride_level0: int,
    overlap_px: int,
    target_mpp: float,
    min_tissue: float,
    grid_shape: tuple[int, int],
    imported: tuple[str, str] = ("", ""),
) -> dict:
    """The attributes of a tiles file (or of a regions file, whose tiles are regions) cut from a slide whose
    tissue mask `mask` describes; `imported`: the tool and file its coordinates came from, if any."""
    return {
        SLIDE_ID: mask.slide_id,
        TILE_PX: tile_px,
        TILE_PX_LEVEL0: tile_px_level0,
        STRIDE_LEVEL0: stride_level0,
        OVERLAP_PX: overlap_px,
        TARGET_MPP: target_mpp,
        MPP_LEVEL0: math.nan if mask.mpp is None else mask.mpp,  # None: an excluded slide's, never measured
        MPP_SOURCE: mask.mpp_source,
        LEVEL0_WIDTH: mask.level0_width,
        LEVEL0_HEIGHT: mask.level0_height,
        LEVEL_DOWNSAMPLES: mask.level_downsamples,
        MIN_TISSUE: min_tissue,
        MASK_THRESHOLD: math.nan if mask.threshold is None else mask.threshold,
        GRID_ROWS: grid_shape[0],
        GRID_COLS: grid_shape[1],
        IMPORTED_FROM: imported[0],
        IMPORTED_FILE: imported[1],
    }


@dataclass
class TileFile:
    """A tiles file's coordinates, attributes and (when read) per-tile datasets."""

    coords: np.ndarray
    attrs: dict
    tissue_fraction: np.ndarray | None = None
    grid_row_col: np.ndarray | None = None
    annotation_fraction: np.ndarray | None = None
    measures: TileMeasures | None = None
    dropped: "DroppedTiles | None" = None

    @property
    def tile_px(self) -> int:
        return int(self.attrs[TILE_PX])

    @property
    def size0(self) -> int:
        """Tile side in level-0 pixels."""
        return int(self.attrs[TILE_PX_LEVEL0])

    @property
    def target_mpp(self) -> float:
        return float(self.attrs[TARGET_MPP])

    @property
    def mpp_level0(self) -> float:
        return float(self.attrs[MPP_LEVEL0])

    @property
    def overlap_px(self) -> int:
        return int(self.attrs[OVERLAP_PX])

    @property
    def level_downsamples(self) -> list[float]:
        return [float(d) for d in self.attrs[LEVEL_DOWNSAMPLES]]

    @property
    def stride0(self) -> float:
        return float(self.attrs[STRIDE_LEVEL0])

    @property
    def level0_size(self) -> tuple[int, int]:
        return int(self.attrs[LEVEL0_WIDTH]), int(self.attrs[LEVEL0_HEIGHT])

    @property
    def slide_id(self) -> str:
        return str(self.attrs[SLIDE_ID])

    def annotated_tumor(self) -> np.ndarray | None:
        """Annotated tumor share of each tile, or None without an annotation mask."""
        return None if self.annotation_fraction is None else self.annotation_fraction[:, TUMOR]

    def __len__(self) -> int:
        return len(self.coords)

    @classmethod
    def read(cls, path: str | Path) -> "TileFile":
        with h5py.File(path, "r") as h5:

            def optional(name):
                return h5[name][:] if name in h5 else None

            measures = None
            if MEASURE_DATASETS[MEASURES[0]] in h5:
                measures = TileMeasures(*(h5[MEASURE_DATASETS[m]][:] for m in MEASURES))
            return cls(
                h5[COORDS][:],
                dict(h5.attrs),
                optional(TISSUE_FRACTION),
                optional(GRID_ROW_COL),
                optional(ANNOTATION_FRACTION),
                measures,
                DroppedTiles.read(h5[DROPPED]) if DROPPED in h5 else None,
            )

    @staticmethod
    def count(path: str | Path) -> int:
        """Number of tiles, without reading them."""
        with h5py.File(path, "r") as h5:
            return int(h5[COORDS].shape[0])

    def write(self, path: str | Path, extra: dict[str, np.ndarray] | None = None) -> None:
        """Write atomically (a temporary name in the same folder, renamed when complete), with `extra`
        datasets of derived contracts (the regions file's patch_tissue)."""
        missing = [k for k in ATTRIBUTES if k not in self.attrs]
        if missing:
            raise ValueError(f"tile file attributes missing: {missing}")
        with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
            coords = h5.create_dataset(COORDS, data=np.asarray(self.coords, np.int64).reshape(-1, 2))
            for key, value in self.attrs.items():
                coords.attrs[key] = value
                h5.attrs[key] = value
            h5.create_dataset(TISSUE_FRACTION, data=np.asarray(self.tissue_fraction, np.float32))
            h5.create_dataset(GRID_ROW_COL, data=np.asarray(self.grid_row_col, np.int64).reshape(-1, 2))
            if self.annotation_fraction is not None:
                dataset = h5.create_dataset(ANNOTATION_FRACTION, data=np.asarray(self.annotation_fraction, np.float32))
                dataset.attrs["classes"] = list(LABEL_NAMES)
            if self.measures is not None:
                for m, values in self.measures.arrays().items():
                    h5.create_dataset(MEASURE_DATASETS[m], data=values)
            if self.dropped is not None:
                self.dropped.write(h5.create_group(DROPPED))
            for name, values in (extra or {}).items():
                h5.create_dataset(name, data=values)


@dataclass
class DroppedTiles:
    """The artefact tiles of a slide: left out of the tiles, kept with their measures and kinds for QC."""

    coords: np.ndarray
    tissue_fraction: np.ndarray
    grid_row_col: np.ndarray
    measures: TileMeasures
    flags: np.ndarray  # uint8, bit k: ARTEFACTS[k]

    def __len__(self) -> int:
        return len(self.coords)

    def write(self, group) -> None:
        group.create_dataset(COORDS, data=np.asarray(self.coords, np.int64).reshape(-1, 2))
        group.create_dataset(TISSUE_FRACTION, data=np.asarray(self.tissue_fraction, np.float32))
        group.create_dataset(GRID_ROW_COL, data=np.asarray(self.grid_row_col, np.int64).reshape(-1, 2))
        for m, values in self.measures.arrays().items():
            group.create_dataset(MEASURE_DATASETS[m], data=values)
        flags = group.create_dataset(ARTEFACT_FLAGS, data=np.asarray(self.flags, np.uint8))
        flags.attrs[KINDS] = list(ARTEFACTS)

    @classmethod
    def read(cls, group) -> "DroppedTiles":
        return cls(
            group[COORDS][:],
            group[TISSUE_FRACTION][:],
            group[GRID_ROW_COL][:],
            TileMeasures(*(group[MEASURE_DATASETS[m]][:] for m in MEASURES)),
            group[ARTEFACT_FLAGS][:],
        )
