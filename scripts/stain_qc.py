"""Adapter of rule stain_qc to slidesnake.jobs.stain_qc.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import stain_qc
from slidesnake.stain.params import StainParams

with job_logging(snakemake.log[0]):
    stain_qc.run(
        Path(snakemake.input.reference),
        StainParams(**snakemake.params.stain),
        snakemake.params.slides,
        Path(snakemake.output[0]),
    )
