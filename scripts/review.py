"""Adapter of rule review_project to slidesnake.jobs.review.run (no PU files where PU does not run)."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import review
from slidesnake.review.params import ReviewParams

with job_logging(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    review.run(
        i.manifest,
        i.qc,
        i.splits,
        i.pu[0] if i.pu else None,
        list(i.mil),
        p.model,
        ReviewParams(**p.review),
        Path(snakemake.output[0]),
        review.PURun.read(*i.pu_run, p.tumor_threshold, p.positive_class, p.corrected) if i.pu_run else None,
        tuple(Path(f) for f in i.new) if i.new else None,
    )
