"""Adapter of rule export_trident to slidesnake.jobs.export_trident.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import export_trident

with job_logging(snakemake.log[0]):
    export_trident.run(snakemake.params.tiles, snakemake.params.features, Path(snakemake.output[0]))
