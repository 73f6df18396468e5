"""Benchmark: how long Snakemake takes to build the DAG of an N-slide cohort, and its peak memory.

A sample sheet of N rows (all pointing at one small slide), the default config with random-weight
resnet50_trunc features and the default training task; `snakemake -n` runs in a fresh process, so the
time includes start-up, config and sheet checks and the DAG of every rule. Reports seconds, peak RSS and
the cost per slide.

    PYTHONPATH=src python benchmarks/bench_dag.py --slides 1000 5000 10000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def small_slide(folder: Path) -> Path:
    """The real CMU test slide when it is there, else a small synthetic one."""
    cmu = REPO.parent / "shared" / "data" / "CMU-1-Small-Region.svs"
    if cmu.exists():
        return cmu
    from dataclasses import replace

    from slidesnake.demo.cohort import write_demo_slide
    from slidesnake.demo.plan import plan_cohort
    from slidesnake.workflow.config import default_config

    plan = replace(plan_cohort(default_config()["demo"], 2)[0], width=2048, height=2048)
    path = folder / "slide.tiff"
    write_demo_slide(plan, path, folder / "t.png", folder / "a.png", folder / "s.json")
    return path


def measure(n: int, folder: Path, slide: Path) -> dict:
    sheet = folder / f"samples_{n}.tsv"
    with open(sheet, "w") as handle:
        handle.write("slide_id\tsource\tlabel\n")
        for i in range(n):
            handle.write(f"s{i:06d}\t{slide}\t{'tumor' if i % 2 else 'normal'}\n")
    config = folder / f"config_{n}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "samples": str(sheet),
                "features": {"encoders": {"resnet50_trunc": {"weights": "random"}}},
                "pu": {"enabled": False},
            }
        )
    )
    workdir = folder / f"work_{n}"
    workdir.mkdir(exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
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
            "1",
            "-n",
            "--quiet",
            "all",
        ],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "slides": n,
        "seconds": round(seconds, 1),
        "peak_rss_gb": round(max(peak, before) / 1024**2, 2),
        "ms_per_slide": round(1000 * seconds / n, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slides", type=int, nargs="+", default=[1000, 5000, 10000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        slide = small_slide(Path(tmp))
        for n in sorted(args.slides):
            rows.append(measure(n, Path(tmp), slide))
            print(json.dumps(rows[-1]), flush=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores")
    print("| slides | DAG build (`-n`) | peak RSS | per slide |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['slides']:,} | {r['seconds']} s | {r['peak_rss_gb']} GB | {r['ms_per_slide']} ms |")
    if len(rows) > 1:
        print(f"per-slide time, largest vs smallest: {rows[-1]['ms_per_slide'] / rows[0]['ms_per_slide']:.2f}x")


if __name__ == "__main__":
    main()
