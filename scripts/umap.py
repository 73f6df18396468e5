"""UMAP of tile features: scatter by label and score, and RGB views over each slide's thumbnail."""
import workflow_package  # noqa: F401  (puts src/ on sys.path)
from pathlib import Path

from slidesnake.figure_stage import run_umap
from slidesnake.logs import job_logging

with job_logging(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    pick = lambda prefix: {k[len(prefix):]: Path(v) for k, v in i.items() if k.startswith(prefix)}
    features = pick("features_")
    run_umap(features, pick("tiles_"), pick("thumbnail_"), p.labels, Path(i.scores) if "scores" in i.keys() else None,
             p.max_tiles, p.seed, Path(snakemake.output.scatter),
             {s: Path(r) for s, r in zip(features, snakemake.output.rgb)})
