"""Adapter of rule oof_predictions to slidesnake.jobs.oof_predictions.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import oof_predictions

with job_logging(snakemake.log[0]):
    oof_predictions.run(
        [Path(p) for p in snakemake.input],
        snakemake.params.classes,
        Path(snakemake.output.slides),
        Path(snakemake.output.patients),
    )
