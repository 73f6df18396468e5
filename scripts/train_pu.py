"""PU / PNU tile tumor classifier from partial annotations, out of fold."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.logs import job_logging
from slidesnake.pu import PUParams
from slidesnake.train_stage import run_pu

with job_logging(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    features = {k[len("features_"):]: Path(v) for k, v in i.items() if k.startswith("features_")}
    tiles = {k[len("tiles_"):]: Path(v) for k, v in i.items() if k.startswith("tiles_")}
    run_pu(snakemake.wildcards.task, snakemake.params.positive_class, Path(i.splits), features, tiles,
           PUParams(**snakemake.params.pu), Path(o.tile_scores), Path(o.slide_scores), Path(o.prior))
