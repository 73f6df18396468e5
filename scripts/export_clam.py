"""Adapter of rule export_clam to slidesnake.jobs.export_clam.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import export_clam

with job_logging(snakemake.log[0]):
    export_clam.run(snakemake.params.tiles, snakemake.params.features, Path(snakemake.output[0]))
