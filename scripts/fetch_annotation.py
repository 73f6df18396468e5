"""Adapter of rule fetch_annotation to slidesnake.jobs.fetch_annotation.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.io.params import DownloadParams
from slidesnake.jobs import fetch_annotation

with job_logging(snakemake.log[0]):
    p = snakemake.params
    fetch_annotation.run(
        p.source, p.kind, Path(snakemake.output[0]), snakemake.wildcards.slide, DownloadParams(**p.download)
    )
