"""Adapter of rule tile_class_figures to slidesnake.jobs.tile_class_figures.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import tile_class_figures

with job_logging(snakemake.log[0]):
    tile_class_figures.run(
        snakemake.params.tile_classes,
        list(snakemake.input.manifests),
        Path(snakemake.input.metrics),
        Path(snakemake.output[0]),
    )
