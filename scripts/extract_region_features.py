"""Adapter of rule extract_region_features to slidesnake.jobs.extract_region_features.run."""

from pathlib import Path

from slidesnake.core.gpu_pool import claim_gpu
from slidesnake.core.logs import job_logging
from slidesnake.features.params import RegionFeatureParams
from slidesnake.jobs import extract_region_features

with job_logging(snakemake.log[0]), claim_gpu():
    extract_region_features.run(
        snakemake.params.slides,
        RegionFeatureParams(**snakemake.params.region_features),
        Path(snakemake.output[0]),
        snakemake.threads,
    )
