"""Tiling stage: tile grid from the tissue mask, annotation fractions, HDF5 in the CLAM/TRIDENT layout."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import cv2
import h5py
import numpy as np

from .annotations import ANNOTATION_CLASSES, read_label_mask
from .atomic import atomic_output
from .errors import SlideError
from .provenance import provenance_attrs
from .qc import draw_tiles, write_rgb
from .tiling import TileGrid, TilingParams, label_fractions, make_grid, mask_downsample

log = logging.getLogger(__name__)


def clam_level(level_downsamples: list[float], scale: float) -> int | None:
    """Pyramid level whose downsample equals the tile scale (then CLAM's level/size pair is exact)."""
    for level, ds in enumerate(level_downsamples):
        if abs(ds - scale) <= 0.01 * scale:
            return level
    return None


def tile_attrs(info: dict, grid: TileGrid, params: TilingParams, mask_threshold: float) -> dict:
    """Attributes that CLAM's and TRIDENT's readers look up, plus slidesnake's own."""
    scale = params.mpp / info["mpp"]
    level = clam_level(info["level_downsamples"], scale)
    patch_level = 0 if level is None else level
    level_ds = info["level_downsamples"][patch_level]
    level_dim = [int(round(info["level0_width"] / level_ds)), int(round(info["level0_height"] / level_ds))]
    return {
        # CLAM
        "patch_size": params.tile_px, "patch_level": patch_level, "downsample": [level_ds, level_ds],
        "downsampled_level_dim": level_dim, "level_dim": level_dim, "name": info["slide_id"],
        # TRIDENT
        "patch_size_level0": grid.size0, "level0_magnification": 10.0 / info["mpp"],
        "target_magnification": 10.0 / params.mpp, "overlap": params.overlap_px,
        "level0_width": info["level0_width"], "level0_height": info["level0_height"],
        # slidesnake
        "target_mpp": params.mpp, "mpp_level0": info["mpp"], "mpp_source": info["mpp_source"],
        "min_tissue": params.min_tissue, "stride_level0": grid.stride0, "mask_threshold": mask_threshold,
        "grid_rows": grid.grid_shape[0], "grid_cols": grid.grid_shape[1],
        "clam_exact": level is not None,
    }


def write_tiles_h5(path: Path, grid: TileGrid, attrs: dict, annotation: np.ndarray | None) -> None:
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        coords = h5.create_dataset("coords", data=grid.coords.astype(np.int64).reshape(-1, 2))
        for key, value in attrs.items():
            coords.attrs[key] = value
            h5.attrs[key] = value
        h5.create_dataset("tissue_fraction", data=grid.tissue_fraction)
        h5.create_dataset("grid_row_col", data=grid.row_col.reshape(-1, 2))
        if annotation is not None:
            ds = h5.create_dataset("annotation_fraction", data=annotation)
            ds.attrs["classes"] = list(ANNOTATION_CLASSES)


def run_tiling(slide_id: str, mask_png: Path, mask_json: Path, thumbnail_jpg: Path, annotation_path: Path | None,
               params: TilingParams, tiles_h5: Path, qc_jpg: Path) -> TileGrid:
    info = json.loads(Path(mask_json).read_text())
    mask = cv2.imread(str(mask_png), cv2.IMREAD_GRAYSCALE) > 127
    level0 = (info["level0_width"], info["level0_height"])
    grid = make_grid(mask, tuple(info["mask_downsample"]), level0, info["mpp"], params)
    annotation = None
    if annotation_path is not None:
        labels = read_label_mask(annotation_path)
        try:
            downsample = mask_downsample(labels.shape, level0, f"annotation mask {annotation_path}")
        except ValueError as error:
            raise SlideError(slide_id, str(error)) from None
        annotation = label_fractions(labels, downsample, grid.coords, grid.size0, (1, 2))
        annotation = np.column_stack([1 - annotation.sum(1), annotation]).astype(np.float32)
    if not len(grid.coords):
        log.warning("slide '%s': no tile reaches %.0f%% tissue; writing an empty tile file",
                    slide_id, 100 * params.min_tissue)
    attrs = {**tile_attrs(info, grid, params, info["threshold"]), **provenance_attrs(asdict(params))}
    write_tiles_h5(tiles_h5, grid, attrs, annotation)
    thumbnail = cv2.cvtColor(cv2.imread(str(thumbnail_jpg)), cv2.COLOR_BGR2RGB)
    colours = None
    if annotation is not None:  # tumor-annotated tiles red, others blue
        colours = np.where(annotation[:, 2:3] >= 0.5, [[230, 40, 40]], [[40, 90, 230]])
    with atomic_output(qc_jpg) as tmp:
        write_rgb(tmp, draw_tiles(thumbnail, grid.coords, grid.size0, level0[0] / thumbnail.shape[1], colours))
    log.info("slide '%s': %d tiles of %d px at %.3f um/px (%d px at level 0) out of a %d x %d grid",
             slide_id, len(grid.coords), params.tile_px, params.mpp, grid.size0, *grid.grid_shape)
    return grid
