"""Adapter of rule fetch_slide to slidesnake.jobs.fetch_slide.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.io.params import DownloadParams
from slidesnake.jobs import fetch_slide

with job_logging(snakemake.log[0]) as log:
    p = snakemake.params
    summary = fetch_slide.run(
        p.source,
        p.kind,
        Path(snakemake.output[0]),
        snakemake.wildcards.slide,
        p.md5,
        DownloadParams(**p.download),
        p.strict,
    )
    log.info("fetched %s", summary)
