"""Write the demo cohort's sample sheet and truth table."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.demo.cohort import write_cohort_tables
from slidesnake.logs import job_logging

with job_logging(snakemake.log[0]) as log:
    write_cohort_tables([Path(p) for p in snakemake.input.stats], Path(snakemake.params.slide_dir),
                        Path(snakemake.output.sheet), Path(snakemake.output.truth))
    log.info("wrote %s and %s", snakemake.output.sheet, snakemake.output.truth)
