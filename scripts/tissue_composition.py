"""Adapter of rule tissue_composition to slidesnake.jobs.tissue_composition.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import tissue_composition

with job_logging(snakemake.log[0]):
    tissue_composition.run(
        snakemake.params.tile_classes,
        list(snakemake.input.manifests),
        snakemake.params.tumor_class,
        Path(snakemake.output.composition),
        Path(snakemake.output.localisation),
    )
