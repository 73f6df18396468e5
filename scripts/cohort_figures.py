"""Adapter of rule cohort_figures to slidesnake.jobs.cohort_figures.run."""

from slidesnake.core.logs import job_logging
from slidesnake.jobs import cohort_figures

with job_logging(snakemake.log[0]) as log:
    p = snakemake.params
    summary = cohort_figures.run(
        p.classes,
        p.files["predictions"],
        p.files["metrics"],
        snakemake.input.manifest,
        p.labels,
        dict(snakemake.output.items()),
    )
    log.info("fold AUCs: %s", summary)
