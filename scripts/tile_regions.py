"""Adapter of rule tile_regions to slidesnake.jobs.tile_regions.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import tile_regions
from slidesnake.tissue.params import RegionParams

with job_logging(snakemake.log[0]):
    i = snakemake.input
    tile_regions.run(
        snakemake.wildcards.slide,
        Path(i.mask),
        Path(i.info),
        RegionParams(**snakemake.params.regions),
        snakemake.params.tiling_mpp,
        Path(snakemake.output[0]),
    )
