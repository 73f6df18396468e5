"""Adapter of rule qc_table to slidesnake.jobs.qc_table.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import qc_table

with job_logging(snakemake.log[0]):
    i = snakemake.input
    qc_table.run(
        Path(i.slides), Path(i.features[0]) if i.features else None, snakemake.params.sources, Path(snakemake.output[0])
    )
