"""Tile grid of one slide to HDF5."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.logs import job_logging
from slidesnake.tile_stage import run_tiling
from slidesnake.tiling import TilingParams

with job_logging(snakemake.log[0]):
    i, out = snakemake.input, snakemake.output
    run_tiling(snakemake.wildcards.slide, Path(i.mask), Path(i.info), Path(i.thumbnail),
               Path(i.annotation[0]) if i.annotation else None, TilingParams(**snakemake.params.tiling),
               Path(out.tiles), Path(out.qc))
