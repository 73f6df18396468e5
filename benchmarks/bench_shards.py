"""Benchmark: feature extraction of a cohort as one job per slide against shards of slides per job.

Prepares N small demo slides through `tiles`, then times `snakemake features` twice from the same tiles:
with features.slides_per_job 1 and with all N slides in one shard. Start-up is the wall time not spent in
the encoding loops (the shard tables record each slide's encoding seconds): process start, torch import,
model build and slide opening, plus Snakemake's own scheduling. Each feature job asks for all the cores
(num_workers = cores - 1), as a GPU job would hold its GPU, so jobs run one after the other.

    PYTHONPATH=src python benchmarks/bench_shards.py --slides 32 --cores 2
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, config: Path, cores: int, *targets: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            "--workflow-profile",
            "none",
            f"--configfile={config}",
            "--cores",
            str(cores),
            *targets,
            "--resources",
            "gpu=1",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    return time.perf_counter() - start


def encoding_seconds(workdir: Path) -> float:
    total = 0.0
    for table in (workdir / "results" / "features").glob("*/shards/*.tsv"):
        with open(table, newline="") as handle:
            total += sum(float(row["seconds"]) for row in csv.DictReader(handle, delimiter="\t") if row["seconds"])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slides", type=int, default=32)
    parser.add_argument("--size", type=int, default=2048, help="demo slide side in px")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--encoder", default="resnet18")
    args = parser.parse_args()
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
        "slides": args.slides,
        "slide_px": args.size,
        "encoder": args.encoder,
        "cores": args.cores,
    }
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        config = {
            "samples": "demo",
            "demo": {"n_slides": args.slides, "width": args.size, "height": args.size, "new_slides": 0},
            "tiling": {"tile_px": 256},
            "features": {"encoders": {args.encoder: {"weights": "random"}}, "num_workers": args.cores - 1},
        }
        for name, per_job in (("per_slide", 1), ("shards", args.slides)):
            path = Path(tmp) / f"{name}.yaml"
            path.write_text(yaml.safe_dump({**config, "features": {**config["features"], "slides_per_job": per_job}}))
        snakemake(base, Path(tmp) / "per_slide.yaml", args.cores, "tiles")
        for name in ("per_slide", "shards"):
            workdir = Path(tmp) / name
            shutil.copytree(base, workdir, symlinks=True)
            wall = snakemake(workdir, Path(tmp) / f"{name}.yaml", args.cores, "features")
            encoding = encoding_seconds(workdir)
            report[name] = {
                "wall_s": round(wall, 1),
                "encoding_s": round(encoding, 1),
                "start_up_share": round(1 - encoding / wall, 3),
            }
            print(name, json.dumps(report[name]), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
