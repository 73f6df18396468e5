"""Adapter of rule deploy_predictions to slidesnake.jobs.deploy_predictions.run."""

from pathlib import Path

from slidesnake.core.gpu_pool import claim_gpu
from slidesnake.core.logs import job_logging
from slidesnake.jobs import deploy_predictions

with job_logging(snakemake.log[0]), claim_gpu():
    i, o = snakemake.input, snakemake.output
    deploy_predictions.run(
        [Path(p) for p in i.models],
        Path(i.manifest),
        snakemake.params.patients,
        Path(o.slides),
        Path(o.patients),
        Path(o.tile_scores),
        [Path(p) for p in i.oof],
        snakemake.params.sites,
    )
