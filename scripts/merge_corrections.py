"""Adapter of rule merge_corrections to slidesnake.jobs.merge_corrections.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import merge_corrections

with job_logging(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    merge_corrections.run(
        snakemake.wildcards.slide,
        Path(i.tiles),
        Path(i.annotation[0]) if i.annotation else None,
        Path(i.corrections[0]) if i.corrections else None,
        Path(o.mask),
        Path(o.labels),
    )
