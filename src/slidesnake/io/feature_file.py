"""The features file contract, `results/features/{encoder}/{slide}.h5` (and HIPT's region features): datasets
`features` (N x D float32) and `coords` (N x 2, the tiles file's order, with the tiles file's attributes); the
file attributes, ATTRIBUTES, say what made the features: the encoder, where its weights came from (`weights`,
or HIPT's `vit256_weights` and `vit4k_weights`), its input size and normalisation, the tiles' size and mpp, the
reader, decoder and pyramid level, the precision it ran at, the stain normalisation, and provenance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.io.tile_file import COORDS, TARGET_MPP, TILE_PX, TILE_PX_LEVEL0, TileFile

FEATURES = "features"
(
    ENCODER,
    WEIGHTS,
    VIT256_WEIGHTS,
    VIT4K_WEIGHTS,
    INPUT_SIZE,
    NORM_MEAN,
    NORM_STD,
    READER,
    DECODER,
    READ_LEVEL,
    PRECISION,
    STAIN_NORMALISATION,
    STAIN_REFERENCE,
) = OWN_ATTRIBUTES = (
    "encoder",
    "weights",
    "vit256_weights",
    "vit4k_weights",
    "input_size",
    "norm_mean",
    "norm_std",
    "reader",
    "decoder",
    "read_level",
    "precision",
    "stain_normalisation",
    "stain_reference",
)
ATTRIBUTES = (*OWN_ATTRIBUTES, TILE_PX, TARGET_MPP, TILE_PX_LEVEL0)  # the last three: the tiles file's
EMPTY = {FEATURES: np.zeros((0, 0), np.float32), COORDS: np.zeros((0, 2), np.int64)}  # an excluded slide's datasets


@dataclass(frozen=True)
class FeatureAttrs:
    """What made a features file: its file attributes (the tiles' size and mpp come from the tiles file)."""

    encoder: str
    weights: dict[str, str]  # WEIGHTS (HIPT: VIT256_WEIGHTS and VIT4K_WEIGHTS) -> where they came from
    input_size: int
    norm: tuple  # (mean, std) per channel, the 0-1 scale
    reader: str
    decoder: str
    read_level: int
    precision: str  # bf16 | fp32, as the job ran
    stain_normalisation: str  # method, or none
    stain_reference: str  # the fitted reference's values, or empty
    provenance: dict

    def for_tiles(self, tiles: TileFile) -> dict:
        return {
            ENCODER: self.encoder,
            **self.weights,
            INPUT_SIZE: self.input_size,
            NORM_MEAN: self.norm[0],
            NORM_STD: self.norm[1],
            TILE_PX: tiles.tile_px,
            TARGET_MPP: tiles.target_mpp,
            TILE_PX_LEVEL0: tiles.size0,
            READER: self.reader,
            DECODER: self.decoder,
            READ_LEVEL: self.read_level,
            PRECISION: self.precision,
            STAIN_NORMALISATION: self.stain_normalisation,
            STAIN_REFERENCE: self.stain_reference,
            **self.provenance,
        }


def write_feature_file(
    path: str | Path,
    features: np.ndarray,
    tiles: TileFile,
    attrs: FeatureAttrs,
    extra: dict[str, np.ndarray] | None = None,
) -> None:
    """Write atomically: `features` in the order of `tiles` (whose coords and attributes go along); `extra`
    datasets (region files' patch tokens) beside `features`."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        for name, values in (extra or {}).items():
            h5.create_dataset(name, data=values)
        h5.create_dataset(FEATURES, data=np.asarray(features, np.float32))
        dataset = h5.create_dataset(COORDS, data=np.asarray(tiles.coords, np.int64).reshape(-1, 2))
        for key, value in tiles.attrs.items():
            dataset.attrs[key] = value
        for key, value in attrs.for_tiles(tiles).items():
            h5.attrs[key] = value


def read_feature_file(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(features, coords, file attributes)."""
    with h5py.File(path, "r") as h5:
        return h5[FEATURES][:], h5[COORDS][:], dict(h5.attrs)


def feature_shape(path: str | Path) -> tuple[int, int]:
    with h5py.File(path, "r") as h5:
        return tuple(int(n) for n in h5[FEATURES].shape)


def tile_size_level0(path: str | Path) -> int:
    """Level-0 side of the boxes a features file describes (tiles, or HIPT's regions)."""
    with h5py.File(path, "r") as h5:
        return int(h5[COORDS].attrs[TILE_PX_LEVEL0])
