"""Download or link one slide's annotation mask."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.download import fetch
from slidesnake.logs import job_logging

with job_logging(snakemake.log[0]) as log:
    p = snakemake.params
    fetch(p.source, p.kind, Path(snakemake.output[0]), name=f"{snakemake.wildcards.slide} annotation",
          retries=p.retries, backoff=p.backoff_s, timeout=p.timeout_s)
    log.info("fetched annotation of %s", snakemake.wildcards.slide)
