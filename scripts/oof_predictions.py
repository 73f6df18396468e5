"""Out-of-fold slide predictions of one task and model, and their patient-level aggregation."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.logs import job_logging
from slidesnake.predict_stage import run_oof

with job_logging(snakemake.log[0]):
    run_oof([Path(p) for p in snakemake.input], snakemake.params.classes, Path(snakemake.output.slides),
            Path(snakemake.output.patients))
