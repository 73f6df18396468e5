"""Adapter of rule feature_manifest to slidesnake.jobs.feature_manifest.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import feature_manifest

with job_logging(snakemake.log[0]):
    feature_manifest.run(snakemake.params.features, snakemake.params.tiles, Path(snakemake.output[0]))
