"""Adapter of rule tile_slide to slidesnake.jobs.tile_slide.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import tile_slide
from slidesnake.tissue.params import ArtefactParams, TilingParams

with job_logging(snakemake.log[0]):
    i, out = snakemake.input, snakemake.output
    tile_slide.run(
        snakemake.wildcards.slide,
        Path(i.mask),
        Path(i.info),
        Path(i.thumbnail),
        Path(i.annotation[0]) if i.annotation else None,
        TilingParams(**snakemake.params.tiling),
        Path(out.tiles),
        Path(out.qc),
        snakemake.params.min_tiles,
        snakemake.params.strict,
        snakemake.params.source,
        (snakemake.params.import_format, Path(i.imported[0])) if i.imported else None,
        slide_path=Path(i.slide),
        artefact_params=ArtefactParams(**snakemake.params.artefacts),
        artefact_jpg=Path(out.artefacts),
        artefact_geojson=Path(out.artefact_geojson),
    )
