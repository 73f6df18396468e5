"""Rule tile_regions: HIPT's region grid of one slide from its tissue mask (no slide reads), with the tissue
share of every 256 px patch of every region."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import cv2

from slidesnake.core.provenance import provenance_attrs
from slidesnake.io.region_file import write_region_file
from slidesnake.io.tile_file import TileFile
from slidesnake.tissue.regions import make_region_grid
from slidesnake.workflow.params import RegionParams

log = logging.getLogger(__name__)


def run(slide_id: str, mask_png: Path, mask_json: Path, params: RegionParams, tiling_mpp: float, out: Path) -> None:
    """Regions of patches_per_side x patches_per_side patches of patch_px at the target mpp, kept when their
    tissue share reaches min_tissue; written as a regions file."""
    info = json.loads(Path(mask_json).read_text())
    mask = cv2.imread(str(mask_png), cv2.IMREAD_GRAYSCALE) > 127
    mpp = params.mpp or tiling_mpp
    grid = make_region_grid(mask, tuple(info["mask_downsample"]), (info["level0_width"], info["level0_height"]),
                            info["mpp"], params.patch_px, params.patches_per_side, mpp, params.min_tissue)
    region_px = params.patch_px * params.patches_per_side
    attrs = {"slide_id": slide_id, "tile_px": region_px, "tile_px_level0": grid.size0, "stride_level0": grid.size0,
             "overlap_px": 0, "target_mpp": mpp, "mpp_level0": info["mpp"], "mpp_source": info["mpp_source"],
             "level0_width": info["level0_width"], "level0_height": info["level0_height"],
             "level_downsamples": info["level_downsamples"], "min_tissue": params.min_tissue,
             "mask_threshold": info["threshold"], "grid_rows": grid.grid_shape[0], "grid_cols": grid.grid_shape[1],
             "patch_px": params.patch_px, "patch_px_level0": grid.patch_size0,
             "patches_per_side": params.patches_per_side, **provenance_attrs(asdict(params))}
    write_region_file(out, TileFile(grid.coords, attrs, grid.tissue_fraction, grid.row_col), grid.patch_tissue)
    log.info("slide '%s': %d regions of %d px (%d level-0 px) at %.3f um/px", slide_id, len(grid.coords), region_px,
             grid.size0, mpp)
