"""Adapter of rules heatmaps and deploy_heatmaps to slidesnake.jobs.heatmaps.run."""
from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import heatmaps
from slidesnake.figures.params import HeatmapParams

with job_logging(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    heatmaps.run(p.source, list(i.scores), i.manifest, i.get("splits"), HeatmapParams(**p.heatmap),
                 Path(snakemake.output[0]))
