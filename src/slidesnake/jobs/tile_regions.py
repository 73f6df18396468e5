"""Rule tile_regions: HIPT's region grid of one slide from its tissue mask (no slide reads), with the tissue
share of every 256 px patch of every region."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.provenance import provenance_attrs
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.region_file import PatchLayout, write_region_file
from slidesnake.io.tile_file import TileFile, tile_attrs
from slidesnake.tissue.params import RegionParams
from slidesnake.tissue.regions import make_region_grid

log = logging.getLogger(__name__)


def run(slide_id: str, mask_png: Path, mask_json: Path, params: RegionParams, tiling_mpp: float, out: Path) -> None:
    """Regions of patches_per_side x patches_per_side patches of patch_px at the target mpp, kept when their
    tissue share reaches min_tissue; written as a regions file. A slide its mask job excluded gets a regions file
    with no regions that records the exclusion."""
    info = MaskInfo.read(mask_json)
    mpp = params.mpp or tiling_mpp
    region_px = params.patch_px * params.patches_per_side
    if info.exclusion is not None:
        info.exclusion.warn(slide_id)
        attrs = tile_attrs(
            info,
            tile_px=region_px,
            tile_px_level0=0,
            stride_level0=0,
            overlap_px=0,
            target_mpp=mpp,
            min_tissue=params.min_tissue,
            grid_shape=(0, 0),
        )
        empty = np.zeros((0, 2), np.int64)
        regions = TileFile(empty, {**attrs, **info.exclusion.attrs(), **provenance_attrs(asdict(params))}, [], empty)
        k = params.patches_per_side
        write_region_file(out, regions, PatchLayout(params.patch_px, 0, k), np.zeros((0, k, k)))
        return
    mask = cv2.imread(str(mask_png), cv2.IMREAD_GRAYSCALE) > 127
    grid = make_region_grid(
        mask,
        tuple(info.mask_downsample),
        info.level0_size,
        info.mpp,
        params.patch_px,
        params.patches_per_side,
        mpp,
        params.min_tissue,
    )
    attrs = {
        **tile_attrs(
            info,
            tile_px=region_px,
            tile_px_level0=grid.size0,
            stride_level0=grid.size0,
            overlap_px=0,
            target_mpp=mpp,
            min_tissue=params.min_tissue,
            grid_shape=grid.grid_shape,
        ),
        **provenance_attrs(asdict(params)),
    }
    layout = PatchLayout(params.patch_px, grid.patch_size0, params.patches_per_side)
    write_region_file(out, TileFile(grid.coords, attrs, grid.tissue_fraction, grid.row_col), layout, grid.patch_tissue)
    log.info(
        "slide '%s': %d regions of %d px (%d level-0 px) at %.3f um/px",
        slide_id,
        len(grid.coords),
        region_px,
        grid.size0,
        mpp,
    )
