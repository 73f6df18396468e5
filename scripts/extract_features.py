"""Adapter of rule extract_features to slidesnake.jobs.extract_features.run."""
from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import extract_features
from slidesnake.workflow.params import FeatureParams

with job_logging(snakemake.log[0]):
    params = FeatureParams(**snakemake.params.features)
    extract_features.run(Path(snakemake.input.slide), Path(snakemake.input.tiles), Path(snakemake.output[0]),
                         params, snakemake.wildcards.slide, threads=max(1, snakemake.threads - params.num_workers))
