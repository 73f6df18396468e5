"""Adapter of rule splits to slidesnake.jobs.splits.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import splits

with job_logging(snakemake.log[0]):
    p = snakemake.params
    splits.run(p.labels, p.patients, p.folds, p.seed, Path(snakemake.output[0]), p.kind, p.sites, p.split_by)
