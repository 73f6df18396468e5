"""Download or link one slide, check its md5, and check that OpenSlide can read it."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.download import fetch
from slidesnake.logs import job_logging
from slidesnake.slide_check import check_readable

with job_logging(snakemake.log[0]) as log:
    p, dest = snakemake.params, Path(snakemake.output[0])
    fetch(p.source, p.kind, dest, md5=p.md5, name=snakemake.wildcards.slide,
          retries=p.retries, backoff=p.backoff_s, timeout=p.timeout_s)
    log.info("fetched %s", check_readable(dest, snakemake.wildcards.slide))
