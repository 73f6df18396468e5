"""Adapter of rule umap to slidesnake.jobs.umap.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.jobs import umap

with job_logging(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    umap.run(
        Path(i.features),
        Path(i.manifest),
        p.labels,
        Path(i.pu_scores) if i.pu_scores else None,
        p.max_tiles,
        p.seed,
        Path(snakemake.output.scatter),
        Path(snakemake.output.rgb),
    )
