"""Adapter of rule collect_features to slidesnake.jobs.collect_features.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import collect_features

with job_logging(snakemake.log[0]):
    collect_features.run(
        Path(snakemake.input[0]), snakemake.wildcards.slide, Path(snakemake.output[0]), snakemake.params.strict
    )
