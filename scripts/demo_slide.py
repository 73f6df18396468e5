"""Write one synthetic demo slide with its truth and partial annotation masks."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.demo.cohort import DemoSlidePlan, write_demo_slide, write_truth_overview
from slidesnake.logs import job_logging

with job_logging(snakemake.log[0]) as log:
    out = snakemake.output
    stats = write_demo_slide(DemoSlidePlan(**snakemake.params.plan), Path(out.slide), Path(out.truth),
                             Path(out.annotation), Path(out.stats), workers=snakemake.threads)
    write_truth_overview(Path(out.slide), Path(out.truth), Path(out.annotation), Path(out.overview))
    log.info("wrote %s: tissue %.1f%% of slide, tumor %.1f%% of tissue", out.slide,
             100 * stats["tissue_area_fraction"], 100 * stats["tumor_fraction_of_tissue"])
