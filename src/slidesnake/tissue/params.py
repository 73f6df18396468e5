"""Parameter objects of tissue/: masks, the scale check, tile grids and HIPT's region grids.

Built from the validated config (slidesnake.workflow.params.section_params); no defaults of their own: those
live in the config schema. Light: imported while Snakemake builds the DAG."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MaskParams:
    mpp: float  # resolution the mask is computed at
    channel: str  # saturation | od (optical density) | grey
    median_um: float  # median blur before thresholding
    threshold_floor: int  # never threshold below this (0-255): blank glass finds no tissue
    closing_um: float  # morphological closing radius
    min_tissue_area_um2: float  # drop smaller tissue pieces
    min_hole_area_um2: float  # fill smaller holes
    remove_pen: bool


@dataclass(frozen=True)
class QcParams:
    scale_tolerance: float  # factor between estimated and declared mpp beyond which the check acts
    scale_action: str  # warn | exclude
    nucleus_um: float  # reference median nuclear equivalent diameter (um)
    strict: bool  # a slide that cannot be prepared fails its job (true) or is excluded with its reason (false)


@dataclass(frozen=True)
class TilingParams:
    tile_px: int  # tile size at the target resolution
    mpp: float  # target microns per pixel
    overlap_px: int  # overlap between neighbours, at the target resolution
    min_tissue: float  # keep tiles with at least this tissue fraction


@dataclass(frozen=True)
class RegionParams:
    patch_px: int  # HIPT patch side at the target mpp (256)
    patches_per_side: int  # patches along a region side (16: 4096 px regions)
    mpp: float | None  # target microns per pixel (None: tiling.mpp)
    min_tissue: float  # keep regions with at least this tissue share


@dataclass(frozen=True)
class ArtefactParams:
    artefacts: bool  # measure every tile (false: no measures, no tile dropped, no gate)
    artefact_mpp: float  # microns per pixel the measures are computed at (read from the nearest pyramid level)
    min_focus: float  # tiles with a lower focus are blurred
    max_pen: float  # tiles with a larger share of marker ink are pen
    max_fold: float  # tiles with a larger share of dark saturated pixels are folds
    max_white: float  # tiles with a larger near-white share are background
    max_artefact_share: float  # a slide with a larger artefact share of its tissue is excluded
    min_slide_focus: float  # a slide whose tissue tiles' median focus is lower is excluded (out of focus)
