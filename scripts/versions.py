"""Adapter of rule versions to slidesnake.jobs.versions.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import versions

with job_logging(snakemake.log[0]):
    versions.run(Path(snakemake.scriptdir).parent, Path(snakemake.output[0]))
