"""Adapter of rule fetch_patches to slidesnake.jobs.fetch_patches.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.io.params import DownloadParams
from slidesnake.jobs import fetch_patches

with job_logging(snakemake.log[0]) as log:
    p = snakemake.params
    log.info("%s", fetch_patches.run(p.source, p.kind, p.md5, Path(snakemake.output[0]), DownloadParams(**p.download)))
