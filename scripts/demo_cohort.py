"""Adapter of rule demo_cohort to slidesnake.jobs.demo_cohort.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import demo_cohort

with job_logging(snakemake.log[0]):
    p = snakemake.params
    demo_cohort.run(
        [Path(s) for s in snakemake.input.stats],
        p.slides,
        p.annotations,
        Path(snakemake.output.sheet),
        Path(snakemake.output.truth),
        p.outcomes,
    )
