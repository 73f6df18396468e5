"""Parameter objects of review/ (the QuPath review project).

Built from the validated config (slidesnake.workflow.params.section_params); no defaults of their own: those
live in the config schema. Light: imported while Snakemake builds the DAG."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReviewParams:
    evidence_threshold: float  # rank of a tile's MIL evidence within its slide (0-1) from which it is called tumor
    regions_per_round: int  # tiles proposed to label next, over all slides
    diversity: float  # weight of the similarity to the proposals already picked (review.active)
