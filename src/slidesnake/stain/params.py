"""Parameter objects of stain/: the stain reference and its QC grid.

Built from the validated config (slidesnake.workflow.params.section_params); no defaults of their own: those
live in the config schema. Light: imported while Snakemake builds the DAG."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StainParams:
    reference: str  # cohort | path of a reference image
    reference_slides: int  # cohort reference: slides sampled (evenly over the sample sheet)
    tiles_per_slide: int  # tiles of each slide the reference (and the QC grid) is fitted on
    fit_px: int  # tiles are fitted and normalised at this size (the encoders' input size)
    qc_slides: int  # slides (rows) of the before / after QC grid
    seed: int
