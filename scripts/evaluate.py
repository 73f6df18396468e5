"""Adapter of rule evaluate to slidesnake.jobs.evaluate.run."""

from slidesnake.core.logs import job_logging
from slidesnake.jobs import evaluate

with job_logging(snakemake.log[0]):
    p, files = snakemake.params, snakemake.params.files
    evaluate.run(
        snakemake.wildcards.task,
        p.classes,
        files["predictions"],
        files["tile_scores"],
        snakemake.input.manifest,
        files["pu"],
        p.tumor_threshold,
        snakemake.output.json,
        snakemake.output.md,
        snakemake.input.qc,
        snakemake.input.splits,
        p.kind,
        files["features"],
    )
