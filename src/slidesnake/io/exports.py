"""Tile and feature files in the exact layouts CLAM and TRIDENT read, each with its own semantics.

CLAM (mahmoodlab/CLAM): `patches/{slide}.h5`, dataset `coords` whose attributes `patch_level` and
`patch_size` tell extract_features_fp.py to read `patch_size` pixels at `patch_level`
(dataset_modules/dataset_h5.py, Whole_Slide_Bag_FP: `wsi.read_region(coord, patch_level, (patch_size,
patch_size))`); features for training in `h5_files/{slide}.h5` (`features`, `coords`) and
`pt_files/{slide}.pt` (the features tensor). The level is chosen so that `patch_size` pixels at it span
exactly the tile's level-0 field of view.

TRIDENT (mahmoodlab/TRIDENT): `{mag}x_{patch}px_{overlap}px_overlap/patches/{slide}_patches.h5`, dataset
`coords` with `patch_size` in pixels at the target magnification, `level0_magnification` and
`target_magnification` (its WSIPatcher reads round(patch_size * level0 / target magnification) level-0
pixels), `patch_size_level0`, `overlap`, `level0_width`, `level0_height`, `name`; features in
`features_{name}/{slide}.h5` next to `patches/`, where `name` is TRIDENT's own name of the same patch encoder
(TRIDENT_ENCODERS; its slide encoders look for `features_{patch encoder name}`, e.g. `features_resnet50` for
mean-resnet50), else the workflow's encoder name.

Excluded slides (slidesnake.io.exclusion) are not exported: the peers' readers expect tiles in every file.

Tiles that run past the slide's edge read as white here and in slidesnake's own reader; CLAM reads that
area as black (OpenSlide's transparent pixels converted to RGB).
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.io.exclusion import h5_exclusion
from slidesnake.io.feature_file import FEATURES
from slidesnake.io.tile_file import COORDS, TileFile

log = logging.getLogger(__name__)

MAGNIFICATION_UM = 10.0  # microns per pixel times magnification: 0.5 um/px is "20x" (TRIDENT's convention)

# the peers' attribute names on `coords` (their meanings: the module docstring); slidesnake.io.imports reads them
PATCH_SIZE = "patch_size"  # CLAM: pixels read at patch_level; TRIDENT: pixels at target_magnification
CLAM_PATCH_LEVEL = "patch_level"
TRIDENT_PATCH_SIZE_LEVEL0 = "patch_size_level0"
TRIDENT_LEVEL0_MAGNIFICATION = "level0_magnification"
TRIDENT_TARGET_MAGNIFICATION = "target_magnification"
TRIDENT_OVERLAP = "overlap"


def clam_level(tiles: TileFile) -> tuple[int, int]:
    """(patch_level, patch_size) whose read spans the tile's level-0 field of view to within one level-0 pixel
    (pyramid downsamples such as 2.0005 come from rounded level sizes): the coarsest pyramid level not coarser
    than the target resolution where that holds (level 0 always does)."""
    size0 = tiles.size0
    target_downsample = size0 / tiles.tile_px
    best = (0, size0)
    for level, downsample in enumerate(tiles.level_downsamples):
        if downsample > target_downsample * 1.01:
            break
        patch_size = int(round(size0 / downsample))
        if abs(patch_size * downsample - size0) <= 1.0:
            best = (level, patch_size)
    return best


def clam_attrs(tiles: TileFile, save_path: str) -> dict:
    level, patch_size = clam_level(tiles)
    downsample = tiles.level_downsamples[level]
    width, height = tiles.level0_size
    level_dim = [int(round(width / downsample)), int(round(height / downsample))]
    return {
        PATCH_SIZE: patch_size,
        CLAM_PATCH_LEVEL: level,
        "downsample": [downsample, downsample],
        "downsampled_level_dim": level_dim,
        "level_dim": level_dim,
        "name": tiles.slide_id,
        "save_path": save_path,
    }


def trident_attrs(tiles: TileFile, save_dir: str) -> dict:
    width, height = tiles.level0_size
    return {
        PATCH_SIZE: tiles.tile_px,
        TRIDENT_PATCH_SIZE_LEVEL0: tiles.size0,
        TRIDENT_LEVEL0_MAGNIFICATION: MAGNIFICATION_UM / tiles.mpp_level0,
        TRIDENT_TARGET_MAGNIFICATION: MAGNIFICATION_UM / tiles.target_mpp,
        TRIDENT_OVERLAP: tiles.overlap_px,
        "name": tiles.slide_id,
        "savetodir": save_dir,
        "level0_width": width,
        "level0_height": height,
    }


def trident_folder(tiles: TileFile) -> str:
    """TRIDENT's coordinate folder name, e.g. 20x_512px_0px_overlap."""
    magnification = MAGNIFICATION_UM / tiles.target_mpp
    mag = str(int(round(magnification))) if abs(magnification - round(magnification)) < 1e-9 else f"{magnification:g}"
    return f"{mag}x_{tiles.tile_px}px_{tiles.overlap_px}px_overlap"


# slidesnake registry model -> TRIDENT's name of the same patch encoder (trident/patch_encoder_models/load.py:
# encoder_registry and each encoder's enc_name), only where both compute the same features: same architecture,
# published weights and output. TRIDENT's Processor writes `features_{enc_name}` and its slide encoders read
# `features_{slide_to_patch_encoder_name[...]}` (trident/slide_encoder_models/load.py; mean-<name> reads
# features_<name>, feather_uni_v2 features_uni_v2).
TRIDENT_ENCODERS = {
    "resnet50_trunc": "resnet50",  # ResNet50InferenceEncoder: resnet50.tv_in1k to layer3, average pool, 1024-d
    "uni": "uni_v1",  # UNIInferenceEncoder: ViT-L/16 hf-hub:MahmoodLab/uni, class token, 1024-d
    "uni2": "uni_v2",  # UNIv2InferenceEncoder: ViT-H/14, 8 registers, hf-hub:MahmoodLab/UNI2-h, 1536-d
    "virchow2": "virchow2",  # Virchow2InferenceEncoder: class token + mean patch token (registers skipped)
    "h_optimus_0": "hoptimus0",  # HOptimus0InferenceEncoder: ViT-g/14, 4 registers, 1536-d
    "h_optimus_1": "hoptimus1",  # HOptimus1InferenceEncoder
    "phikon": "phikon",  # PhikonInferenceEncoder: transformers ViTModel owkin/phikon, class token, 768-d
}


def trident_encoder_names(models: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Encoder output name -> the name its TRIDENT features folder carries (`features_{name}`).

    models: output name -> (registry model, stain normalisation). An encoder whose model TRIDENT has takes
    TRIDENT's name; where several encoders share that model (resnet50_trunc and a Macenko-normalised
    resnet50_trunc), the one without stain normalisation takes it (TRIDENT normalises nothing), then the first
    by output name; the others, every other encoder, and an encoder whose TRIDENT name is another encoder's
    own output name keep their output name."""
    claimed: dict[str, str] = {}
    for encoder in sorted(models, key=lambda e: (models[e][1] not in ("", "none"), e)):
        trident = TRIDENT_ENCODERS.get(models[encoder][0])
        if trident and trident not in claimed and (trident == encoder or trident not in models):
            claimed[trident] = encoder
    names = {encoder: trident for trident, encoder in claimed.items()}
    return {encoder: names.get(encoder, encoder) for encoder in models}


def trident_feature_names(features: dict[str, dict[str, str]]) -> dict[str, str]:
    """Encoder output name -> the encoder name of its TRIDENT features folder (`features_{name}`), from the model
    and stain normalisation recorded in its first features file (features: encoder -> slide -> features file)."""
    models = {}
    for encoder, files in features.items():
        attrs = {}
        for path in list(files.values())[:1]:
            with h5py.File(path, "r") as h5:
                attrs = dict(h5.attrs)
        models[encoder] = (str(attrs.get("encoder", encoder)), str(attrs.get("stain_normalisation", "none")))
    return trident_encoder_names(models)


def write_coords(path: Path, coords: np.ndarray, attrs: dict) -> None:
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        dataset = h5.create_dataset(COORDS, data=np.asarray(coords, np.int64).reshape(-1, 2))
        for key, value in attrs.items():
            dataset.attrs[key] = value


def write_features(path: Path, features: np.ndarray, coords: np.ndarray, coords_attrs: dict) -> None:
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset(FEATURES, data=np.asarray(features, np.float32))
        dataset = h5.create_dataset(COORDS, data=np.asarray(coords, np.int64).reshape(-1, 2))
        for key, value in coords_attrs.items():
            dataset.attrs[key] = value


def exportable(tiles: dict[str, str], features: dict[str, dict[str, str]]) -> tuple[dict, dict]:
    """The tiles (slide -> file) and features (encoder -> slide -> file) of the slides to export: those whose
    tiles file and every features file record no exclusion; the others are logged and left out."""
    excluded = {s for s, path in tiles.items() if h5_exclusion(path)}
    excluded |= {s for files in features.values() for s, path in files.items() if h5_exclusion(path)}
    if excluded:
        log.info("not exported, excluded: %s", ", ".join(sorted(excluded)))
    keep = {s: path for s, path in tiles.items() if s not in excluded}
    return keep, {e: {s: p for s, p in files.items() if s not in excluded} for e, files in features.items()}
