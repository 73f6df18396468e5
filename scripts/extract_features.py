"""Adapter of rule extract_features to slidesnake.jobs.extract_features.run."""

from pathlib import Path

from slidesnake.core.gpu_pool import claim_gpu
from slidesnake.core.logs import job_logging
from slidesnake.features.params import FeatureParams
from slidesnake.jobs import extract_features

with job_logging(snakemake.log[0]), claim_gpu():
    reference = snakemake.input.stain_reference
    extract_features.run(
        snakemake.params.slides,
        FeatureParams(**snakemake.params.features),
        Path(snakemake.output[0]),
        snakemake.threads,
        Path(reference[0]) if reference else None,
        snakemake.params.imported,
    )
