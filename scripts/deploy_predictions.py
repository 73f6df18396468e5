"""Predict new slides with every fold's model and their ensemble; tile scores for heatmaps."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.logs import job_logging
from slidesnake.predict_stage import run_deploy

with job_logging(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    features = {k[len("features_"):]: Path(v) for k, v in i.items() if k.startswith("features_")}
    run_deploy([Path(p) for p in i.models], features, snakemake.params.patients, Path(o.slides), Path(o.patients),
               Path(o.tile_scores))
