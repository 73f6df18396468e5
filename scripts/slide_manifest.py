"""Adapter of rule slide_manifest to slidesnake.jobs.slide_manifest.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import slide_manifest

with job_logging(snakemake.log[0]):
    slide_manifest.run(snakemake.params.rows, Path(snakemake.output[0]))
