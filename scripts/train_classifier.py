"""Adapter of rule train_classifier to slidesnake.jobs.train_classifier.run."""

from pathlib import Path

from slidesnake.classifier.params import ClassifierParams
from slidesnake.core.gpu_pool import claim_gpu
from slidesnake.core.logs import job_logging
from slidesnake.jobs import train_classifier

with job_logging(snakemake.log[0]), claim_gpu():
    train_classifier.run(
        Path(snakemake.input.patches),
        ClassifierParams(**snakemake.params.classifier),
        Path(snakemake.output.model),
        Path(snakemake.output.metrics),
        snakemake.threads,
    )
