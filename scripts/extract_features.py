"""Features of every tile of one slide with one encoder."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.features import FeatureParams, extract_features
from slidesnake.logs import job_logging

with job_logging(snakemake.log[0]):
    p = snakemake.params
    extract_features(Path(snakemake.input.slide), Path(snakemake.input.tiles), Path(snakemake.output[0]),
                     FeatureParams(**p.features), snakemake.wildcards.slide, p.sheet_mpp, p.default_mpp,
                     threads=max(1, snakemake.threads - p.features["num_workers"]))
