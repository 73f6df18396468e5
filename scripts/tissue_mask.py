"""Tissue mask, GeoJSON outline and QC pictures of one slide."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.logs import job_logging
from slidesnake.mask_stage import run_tissue_mask
from slidesnake.masking import MaskParams

with job_logging(snakemake.log[0]):
    out, p = snakemake.output, snakemake.params
    run_tissue_mask(Path(snakemake.input.slide), snakemake.wildcards.slide, p.sheet_mpp, p.default_mpp,
                    MaskParams(**p.mask), Path(out.mask), Path(out.info), Path(out.geojson), Path(out.thumbnail),
                    Path(out.qc))
