"""Benchmark: demo slide generation, tissue masking and tiling on one large synthetic slide.

Each stage runs in its own process so its peak RSS is its own. Ratios compare each stage with a
hardware limit measured in the same run: JPEG encoding alone for generation (every pixel must be
encoded), decoding the pyramid level alone for masking (every pixel of that level must be read).

    PYTHONPATH=src python benchmarks/bench_slide_prep.py --size 100000 --workers 2 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

STAGES = {}


def stage(fn):
    STAGES[fn.__name__] = fn
    return fn


def demo_plan(size: int):
    from slidesnake.demo.plan import plan_cohort
    from slidesnake.workflow.config import default_config

    plan = next(p for p in plan_cohort(default_config()["demo"], 4, 11) if p.label == "tumor")
    return replace(plan, slide_id=f"bench_{size}", width=size, height=size)


@stage
def generate(size: int, out: Path, workers: int) -> dict:
    from slidesnake.demo.cohort import write_demo_slide

    plan = demo_plan(size)
    start = time.perf_counter()
    stats = write_demo_slide(
        plan, out / "slide.tiff", out / "truth.png", out / "annotation.png", out / "stats.json", workers=workers
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "megapixels_per_s": size * size / seconds / 1e6,
        "file_mb": (out / "slide.tiff").stat().st_size / 1e6,
        "tissue_fraction": stats["tissue_area_fraction"],
    }


@stage
def jpeg_limit(size: int, out: Path, workers: int) -> dict:
    """JPEG encoding alone of rendered tissue tiles: a ceiling for writing any slide of this size."""
    from slidesnake.demo.cohort import build_renderer
    from slidesnake.io.pyramid_tiff import encode_jpeg_tile

    renderer = build_renderer(demo_plan(8192))
    from slidesnake.demo.geometry import GRID

    cy, cx = np.unravel_index(np.argmax(renderer.layout.tissue), renderer.layout.tissue.shape)
    rgb, _, _ = renderer.render(int(cx * GRID) // 1024 * 1024, int(cy * GRID) // 1024 * 1024, 1024, 1024)
    tiles = [rgb[y : y + 256, x : x + 256] for y in range(0, 1024, 256) for x in range(0, 1024, 256)]
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < 3:
        for tile in tiles:
            encode_jpeg_tile(tile, 256, 90)
        n += len(tiles)
    per_process = n * 256 * 256 / (time.perf_counter() - start) / 1e6
    return {"megapixels_per_s_per_process": per_process, "megapixels_per_s": per_process * workers}


@stage
def mask(size: int, out: Path, workers: int) -> dict:
    from slidesnake.io.slide import Slide
    from slidesnake.jobs import tissue_mask
    from slidesnake.tissue.params import MaskParams
    from slidesnake.workflow.config import default_params

    params = default_params(MaskParams, "mask")
    with Slide(out / "slide.tiff") as slide:
        start = time.perf_counter()
        slide.thumbnail_at_mpp(params.mpp)
        read_only = time.perf_counter() - start
    start = time.perf_counter()
    info = tissue_mask.run(
        out / "slide.tiff",
        "bench",
        None,
        None,
        params,
        out / "mask.png",
        out / "mask.json",
        out / "mask.geojson",
        out / "thumb.jpg",
        out / "mask_qc.jpg",
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "level_read_seconds": read_only, "tissue_fraction": info.tissue_fraction}


@stage
def tiles(size: int, out: Path, workers: int) -> dict:
    from slidesnake.jobs import tile_slide
    from slidesnake.tissue.params import TilingParams
    from slidesnake.workflow.config import default_params

    start = time.perf_counter()
    grid = tile_slide.run(
        "bench",
        out / "mask.png",
        out / "mask.json",
        out / "thumb.jpg",
        out / "annotation.png",
        default_params(TilingParams, "tiling"),
        out / "tiles.h5",
        out / "tiles_qc.jpg",
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "tiles": len(grid.coords), "tiles_per_s": len(grid.coords) / seconds}


def run_stage(name: str, size: int, out: Path, workers: int) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--stage", name, "--size", str(size), "--out", str(out), "--workers", str(workers)],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=8192, help="second size, for the memory comparison")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/slidesnake-bench"))
    parser.add_argument("--stage", choices=list(STAGES))
    args = parser.parse_args()
    if args.stage:
        result = STAGES[args.stage](args.size, args.out, args.workers)
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result["peak_rss_mb"] = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, children) / 1024
        print(json.dumps(result))
        return
    report = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} cores",
        "workers": args.workers,
        "sizes": {},
    }
    report["jpeg_limit"] = run_stage("jpeg_limit", args.small, args.out, args.workers)
    for size in (args.small, args.size):
        folder = args.out / str(size)
        folder.mkdir(parents=True, exist_ok=True)
        results = {name: run_stage(name, size, folder, args.workers) for name in ("generate", "mask", "tiles")}
        gen = results["generate"]
        gen["ratio_to_jpeg_limit"] = gen["megapixels_per_s"] / report["jpeg_limit"]["megapixels_per_s"]
        results["mask"]["ratio_to_level_read"] = results["mask"]["level_read_seconds"] / results["mask"]["seconds"]
        report["sizes"][size] = results
        print(
            f"{size} x {size} px: generate {gen['seconds']:.1f} s ({gen['megapixels_per_s']:.0f} Mpx/s, "
            f"{gen['ratio_to_jpeg_limit']:.2f} of JPEG-encode limit, peak RSS {gen['peak_rss_mb']:.0f} MB); "
            f"mask {results['mask']['seconds']:.2f} s (peak {results['mask']['peak_rss_mb']:.0f} MB, level read "
            f"{results['mask']['ratio_to_level_read']:.2f} of it); tiles {results['tiles']['seconds']:.2f} s, "
            f"{results['tiles']['tiles']} tiles ({results['tiles']['tiles_per_s']:.0f} tiles/s, peak "
            f"{results['tiles']['peak_rss_mb']:.0f} MB)",
            flush=True,
        )
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
