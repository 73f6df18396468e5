"""Adapter of rule demo_patches to slidesnake.jobs.demo_patches.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import demo_patches

with job_logging(snakemake.log[0]) as log:
    counts = demo_patches.run(Path(snakemake.output[0]), snakemake.params.per_class, snakemake.params.seed)
    log.info("demo patches: %s", counts)
