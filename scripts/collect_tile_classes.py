"""Adapter of rule collect_tile_classes to slidesnake.jobs.collect_tile_classes.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import collect_tile_classes

with job_logging(snakemake.log[0]):
    collect_tile_classes.run(
        Path(snakemake.input[0]), snakemake.wildcards.slide, Path(snakemake.output[0]), snakemake.params.strict
    )
