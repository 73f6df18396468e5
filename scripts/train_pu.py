"""Adapter of rule train_pu to slidesnake.jobs.train_pu.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import train_pu
from slidesnake.pu.params import PUParams

with job_logging(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    train_pu.run(
        snakemake.wildcards.task,
        snakemake.params.positive_class,
        Path(i.splits),
        Path(i.manifest),
        PUParams(**snakemake.params.pu),
        Path(o.tile_scores),
        Path(o.slide_scores),
        Path(o.prior),
        snakemake.params.corrected,
    )
