"""Adapter of rule classify_tiles to slidesnake.jobs.classify_tiles.run."""

from pathlib import Path

from slidesnake.core.gpu_pool import claim_gpu
from slidesnake.core.logs import job_logging
from slidesnake.jobs import classify_tiles

with job_logging(snakemake.log[0]), claim_gpu():
    p = snakemake.params
    classify_tiles.run(
        Path(snakemake.input.model), p.slides, p.batch_size, p.num_workers, Path(snakemake.output[0]), snakemake.threads
    )
