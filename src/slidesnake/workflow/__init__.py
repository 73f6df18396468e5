"""What Snakemake needs while it builds the DAG: config checks, parameter objects built from the config, the
sample sheet, the cohort and every output path. Light by design: nothing here imports openslide, OpenCV, torch or
pandas."""

import os


def export_package_path(src: str) -> None:
    """Put the workflow's src/ first on PYTHONPATH, so that every job's Python imports this same package."""
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    os.environ["PYTHONPATH"] = os.pathsep.join([src, *rest])
