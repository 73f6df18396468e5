"""Download or link one slide's annotation mask."""
from pathlib import Path

from slidesnake.download import fetch
from slidesnake.logs import job_logging

with job_logging(snakemake.log[0]) as log:
    p = snakemake.params
    fetch(p.source, p.kind, Path(snakemake.output[0]), name=f"{snakemake.wildcards.slide} annotation",
          retries=p.retries, backoff=p.backoff_s, timeout=p.timeout_s)
    log.info("fetched annotation of %s", snakemake.wildcards.slide)
