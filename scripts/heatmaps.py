"""Heatmaps, high-score GeoJSON regions and top-tile galleries of every slide for one score source
(out of fold for the training cohort, or the fold ensemble on new slides)."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.figure_stage import run_heatmaps
from slidesnake.logs import job_logging

with job_logging(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    slides = {}
    for slide in p.labels:
        files = {"slide": Path(i[f"slide_{slide}"]), "tiles": Path(i[f"tiles_{slide}"]),
                 "mask": Path(i[f"mask_{slide}"]), "mpp": p.mpp[slide]}
        for optional in ("annotation", "truth"):
            if f"{optional}_{slide}" in i.keys():
                files[optional] = Path(i[f"{optional}_{slide}"])
        slides[slide] = files
    run_heatmaps(p.source, [Path(x) for x in i.scores], slides, p.figures, p.labels,
                 Path(snakemake.output.heatmaps[0]).parent)
