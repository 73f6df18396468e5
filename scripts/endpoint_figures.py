"""Adapter of rule endpoint_figures to slidesnake.jobs.endpoint_figures.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import endpoint_figures

with job_logging(snakemake.log[0]):
    p = snakemake.params
    endpoint_figures.run(
        p.kind,
        snakemake.wildcards.name,
        p.files["predictions"],
        Path(snakemake.input.evaluation),
        Path(snakemake.output[0]),
    )
