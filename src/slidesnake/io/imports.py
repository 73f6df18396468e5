"""Tiles from CLAM's or TRIDENT's patch files, the inverse of slidesnake.io.exports (which owns the peers'
attribute names and their meanings): level-0 coordinates and the level-0 side each tool reads.

CLAM reads `patch_size` pixels at `patch_level`, i.e. patch_size x that level's downsample level-0 pixels;
TRIDENT reads `patch_size_level0` level-0 pixels (round(patch_size x level0 / target magnification) in files
without it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from slidesnake.core.errors import InputFileError
from slidesnake.io.exports import (
    CLAM_PATCH_LEVEL,
    PATCH_SIZE,
    TRIDENT_LEVEL0_MAGNIFICATION,
    TRIDENT_PATCH_SIZE_LEVEL0,
    TRIDENT_TARGET_MAGNIFICATION,
)
from slidesnake.io.feature_file import FEATURES
from slidesnake.io.tile_file import COORDS


@dataclass(frozen=True)
class ImportedTiles:
    coords: np.ndarray  # N x 2 int64, level-0 x, y of each tile's top-left corner
    size0: float  # tile side in level-0 pixels that the tool reads (CLAM's carries the pyramid's rounding)
    path: Path


def read_patches(
    path: str | Path,
    tool: str,
    slide_id: str,
    level0_size: tuple[int, int],
    size0: Callable[[dict], float],
) -> ImportedTiles:
    """The tiles of one slide's patch file of `tool`, their level-0 side `size0(coords attributes)`; an
    InputFileError for a missing file, dataset or attribute, or a tile that starts outside the slide
    (level0_size: width, height)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, f"no {tool} patch file for slide '{slide_id}' (tiling.import_coordinates)")
    where = f"{path} ({tool} patches of slide '{slide_id}')"
    with h5py.File(path, "r") as h5:
        if COORDS not in h5:
            raise InputFileError(where, f"no '{COORDS}' dataset")
        coords = np.asarray(h5[COORDS][:], np.int64).reshape(-1, 2)
        attrs = dict(h5[COORDS].attrs)
    try:
        side = size0(attrs)
    except KeyError as error:
        raise InputFileError(where, f"'{COORDS}' lacks the attribute {error}") from None
    width, height = level0_size
    outside = (coords[:, 0] < 0) | (coords[:, 1] < 0) | (coords[:, 0] >= width) | (coords[:, 1] >= height)
    if outside.any():
        x, y = coords[np.argmax(outside)]
        raise InputFileError(
            where, f"{int(outside.sum())} tiles start outside the {width} x {height} px slide, e.g. at ({x}, {y})"
        )
    return ImportedTiles(coords, side, path)


def read_clam(path: str | Path, slide_id: str, level0_size: tuple[int, int], level_downsamples: list[float]):
    """A CLAM patch file (`patches/{slide}.h5`): patch_size pixels at patch_level of the slide's pyramid."""

    def size0(attrs: dict) -> float:
        level = int(attrs[CLAM_PATCH_LEVEL])
        if not 0 <= level < len(level_downsamples):
            raise InputFileError(
                path, f"{CLAM_PATCH_LEVEL} {level}, but slide '{slide_id}' has {len(level_downsamples)} levels"
            )
        return float(attrs[PATCH_SIZE]) * level_downsamples[level]

    return read_patches(path, "CLAM", slide_id, level0_size, size0)


def read_trident(path: str | Path, slide_id: str, level0_size: tuple[int, int], level_downsamples: list[float]):
    """A TRIDENT patch file (`{mag}x_{px}px_{overlap}px_overlap/patches/{slide}_patches.h5`)."""

    def size0(attrs: dict) -> float:
        if TRIDENT_PATCH_SIZE_LEVEL0 in attrs:
            return float(attrs[TRIDENT_PATCH_SIZE_LEVEL0])
        ratio = float(attrs[TRIDENT_LEVEL0_MAGNIFICATION]) / float(attrs[TRIDENT_TARGET_MAGNIFICATION])
        return float(round(float(attrs[PATCH_SIZE]) * ratio))

    return read_patches(path, "TRIDENT", slide_id, level0_size, size0)


def read_features(path: str | Path, tool: str, slide_id: str, tiles_coords: np.ndarray, size0: float) -> np.ndarray:
    """The features of a CLAM (`h5_files/{slide}.h5`) or TRIDENT (`features_{encoder}/{slide}.h5`) feature
    file, one row per tile of the slide's tiles file (`tiles_coords`, level-0 corners; `size0`, their level-0
    side), in its order. An InputFileError for a missing file or dataset, a row count that is not the
    coordinates', coordinates that are not exactly the tiles' (the tiles must be the ones the features were
    computed on: import the same tool's patch files with tiling.import_coordinates), or a TRIDENT file whose
    recorded level-0 patch side is not the tiles' within 1%."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(
            path, f"no {tool} feature file for slide '{slide_id}' (features.encoders: import_features)"
        )
    where = f"{path} ({tool} features of slide '{slide_id}')"
    with h5py.File(path, "r") as h5:
        for name in (FEATURES, COORDS):
            if name not in h5:
                raise InputFileError(where, f"no '{name}' dataset")
        features = np.asarray(h5[FEATURES][:], np.float32)
        coords = np.asarray(h5[COORDS][:], np.int64).reshape(-1, 2)
        side = h5[COORDS].attrs.get(TRIDENT_PATCH_SIZE_LEVEL0)
    features = features.reshape(len(features), -1) if features.ndim != 2 else features
    if len(features) != len(coords):
        raise InputFileError(where, f"{len(features)} feature rows for {len(coords)} coordinates")
    if side is not None and abs(float(side) / size0 - 1) > 0.01:
        raise InputFileError(
            where, f"features of {float(side):g} px level-0 patches, the tiles are {size0:g} px: another field of view"
        )
    row_of = {(int(x), int(y)): i for i, (x, y) in enumerate(coords)}
    rows = np.array([row_of.get((int(x), int(y)), -1) for x, y in tiles_coords], np.int64)
    missing = int((rows < 0).sum())
    if missing or len(coords) != len(tiles_coords):
        example = tuple(int(v) for v in tiles_coords[np.argmax(rows < 0)]) if missing else None
        raise InputFileError(
            where,
            f"its {len(coords)} coordinates are not the {len(tiles_coords)} tiles of the slide's tiles file "
            f"({missing} tiles without features{f', e.g. at {example}' if example else ''}): import the patch "
            "files these features were computed on (tiling.import_coordinates)",
        )
    return features[rows]
