"""ROC, confusion matrix, training curves, tiles and tissue area per slide of one task."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.figure_stage import run_cohort_figures
from slidesnake.logs import job_logging

with job_logging(snakemake.log[0]) as log:
    i, p = snakemake.input, snakemake.params
    summary = run_cohort_figures(
        p.classes, {m: [Path(x) for x in i[f"predictions_{m}"]] for m in p.models},
        {m: [Path(x) for x in i[f"metrics_{m}"]] for m in p.models},
        {k[len("tiles_"):]: Path(v) for k, v in i.items() if k.startswith("tiles_")},
        {k[len("maskinfo_"):]: Path(v) for k, v in i.items() if k.startswith("maskinfo_")},
        p.labels, {k: Path(v) for k, v in snakemake.output.items()})
    log.info("fold AUCs: %s", summary)
