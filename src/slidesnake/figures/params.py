"""Parameter objects of figures/: heatmaps.

Built from the validated config (slidesnake.workflow.params.section_params); no defaults of their own: those
live in the config schema. Light: imported while Snakemake builds the DAG."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HeatmapParams:
    cmap: str
    alpha: float
    smooth_px: float
    region_threshold: float
    top_k: int
