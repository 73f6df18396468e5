"""Adapter of rule tissue_mask to slidesnake.jobs.tissue_mask.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import tissue_mask
from slidesnake.tissue.params import MaskParams, QcParams

with job_logging(snakemake.log[0]):
    out, p = snakemake.output, snakemake.params
    tissue_mask.run(
        Path(snakemake.input.slide),
        snakemake.wildcards.slide,
        p.sheet_mpp,
        p.default_mpp,
        MaskParams(**p.mask),
        Path(out.mask),
        Path(out.info),
        Path(out.geojson),
        Path(out.thumbnail),
        Path(out.qc),
        QcParams(**p.qc),
        p.source,
    )
