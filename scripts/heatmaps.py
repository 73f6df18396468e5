"""Adapter of rule heatmaps to slidesnake.jobs.heatmaps.run (new slides have no splits input)."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.figures.params import HeatmapParams
from slidesnake.jobs import heatmaps

with job_logging(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    heatmaps.run(
        p.source,
        list(i.scores),
        i.manifest,
        i.get("splits") or None,
        HeatmapParams(**p.heatmap),
        Path(snakemake.output[0]),
        Path(i.qc),
    )
