"""Adapter of rule stain_reference to slidesnake.jobs.stain_reference.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import stain_reference
from slidesnake.stain.params import StainParams

with job_logging(snakemake.log[0]):
    stain_reference.run(
        snakemake.wildcards.method,
        StainParams(**snakemake.params.stain),
        snakemake.params.slides,
        Path(snakemake.output[0]),
    )
