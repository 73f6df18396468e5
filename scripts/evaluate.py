"""Out-of-fold evaluation of every model of one task (and PU learning), against truth when known."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.evaluation import run_evaluation
from slidesnake.logs import job_logging

with job_logging(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    tiles = {Path(t).stem: Path(t) for t in i.tiles}
    truth = {Path(t).name[:-len("_truth.png")]: Path(t) for t in i.get("truth", [])}
    pu = ({"slide_scores": i.pu_slide_scores, "tile_scores": i.pu_tile_scores, "prior": i.pu_prior}
          if "pu_slide_scores" in i.keys() else None)
    run_evaluation(snakemake.wildcards.task, p.classes,
                   {m: [Path(x) for x in i[f"predictions_{m}"]] for m in p.models},
                   {m: [Path(x) for x in i[f"tile_scores_{m}"]] for m in p.models},
                   truth, tiles, pu, p.tumor_threshold, Path(snakemake.output.json), Path(snakemake.output.md))
