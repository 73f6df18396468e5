"""Patient-level stratified cross-validation splits of one task."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.logs import job_logging
from slidesnake.train_stage import run_splits

with job_logging(snakemake.log[0]):
    p = snakemake.params
    run_splits(p.labels, p.patients, p.folds, p.seed, Path(snakemake.output[0]))
