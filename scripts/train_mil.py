"""Train one MIL model on one fold and predict its test slides."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.logs import job_logging
from slidesnake.mil.train import TrainParams
from slidesnake.train_stage import run_train_mil

with job_logging(snakemake.log[0]):
    i, o, w = snakemake.input, snakemake.output, snakemake.wildcards
    features = {k: Path(v) for k, v in i.items() if k != "splits"}
    run_train_mil(w.task, snakemake.params.classes, w.model, int(w.fold), Path(i.splits), features,
                  TrainParams(**snakemake.params.training), Path(o.model), Path(o.metrics), Path(o.predictions),
                  Path(o.tile_scores))
