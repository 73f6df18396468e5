"""Parameter objects of io/: downloads of slides, annotations and patch sets.

Built from the validated config (slidesnake.workflow.params.section_params); no defaults of their own: those
live in the config schema. Light: imported while Snakemake builds the DAG."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DownloadParams:
    retries: int
    backoff_s: float
    timeout_s: float
