"""Adapter of rule demo_slide to slidesnake.jobs.demo_slide.run."""

from pathlib import Path

from slidesnake.core.logs import job_logging
from slidesnake.demo.plan import DemoSlidePlan
from slidesnake.jobs import demo_slide

with job_logging(snakemake.log[0]) as log:
    out = snakemake.output
    stats = demo_slide.run(
        DemoSlidePlan(**snakemake.params.plan),
        Path(out.slide),
        Path(out.truth),
        Path(out.annotation),
        Path(out.stats),
        Path(out.overview),
        workers=snakemake.threads,
    )
    log.info(
        "wrote %s: tissue %.1f%% of slide, tumor %.1f%% of tissue",
        out.slide,
        100 * stats["tissue_area_fraction"],
        100 * stats["tumor_fraction_of_tissue"],
    )
