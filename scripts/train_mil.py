"""Adapter of rule train_mil to slidesnake.jobs.train_mil.run."""

from pathlib import Path

from slidesnake.core.gpu_pool import claim_gpu
from slidesnake.core.logs import job_logging
from slidesnake.jobs import train_mil
from slidesnake.mil.params import TrainParams

with job_logging(snakemake.log[0]), claim_gpu():
    i, o, w = snakemake.input, snakemake.output, snakemake.wildcards
    train_mil.run(
        w.task,
        snakemake.params.classes,
        w.model,
        int(w.fold),
        Path(i.splits),
        Path(i.manifest),
        TrainParams(**snakemake.params.training),
        snakemake.params.tumor_threshold,
        Path(o.model),
        Path(o.metrics),
        Path(o.predictions),
        Path(o.tile_scores),
        snakemake.params.task,
        snakemake.params.corrected,
    )
