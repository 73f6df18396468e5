"""Benchmark: the viewer (python -m slidesnake.view) serving a 100,000 x 100,000 px slide with its results.

Writes a results folder with one pyramidal JPEG TIFF of `--size` px whose every stored tile is the same textured
tile (all tile offsets point at one JPEG per level, so the file is a few hundred KB, yet OpenSlide decodes it like any
slide), its tissue mask, a tiles file with a full 256 px grid (152,881 tiles at 100,000 px) and PU tile scores; starts
the viewer in its own process and asks, level by level from the whole slide to level 0, for `--tiles` random view
tiles of the slide and the same tiles of the heatmap overlay (cold: every request is a cache miss). Reports the
latency of each (median, 95th percentile) and the server's resident memory after each level and at its peak.

    PYTHONPATH=src python benchmarks/bench_viewer.py --size 100000 --out /tmp/bench_viewer
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np

from slidesnake.io.manifest import SLIDE_COLUMNS, write_manifest
from slidesnake.io.pyramid_tiff import PyramidTiffWriter, encode_jpeg_tile
from slidesnake.io.tile_file import ATTRIBUTES, TileFile
from slidesnake.io.tile_scores import write_tile_scores
from slidesnake.workflow import paths

TILE, MPP, DOWNSAMPLE = 256, 0.25, 4


def texture(seed: int) -> np.ndarray:
    """A pink tissue-like tile with dark nuclei."""
    rng = np.random.default_rng(seed)
    rgb = np.full((TILE, TILE, 3), (230, 170, 210), np.uint8)
    for x, y in rng.integers(0, TILE, (60, 2)):
        cv2.circle(rgb, (int(x), int(y)), int(rng.integers(3, 7)), (90, 50, 140), -1)
    return rgb


def write_slide(path: Path, size: int) -> list[tuple[int, int]]:
    """A pyramid (downsample 4 per level down to under one tile) of one repeated tile per level."""
    levels = [(size, size)]
    while levels[-1][0] > TILE:
        levels.append((math.ceil(levels[-1][0] / DOWNSAMPLE), math.ceil(levels[-1][1] / DOWNSAMPLE)))
    writer = PyramidTiffWriter(path, levels, MPP, TILE)
    for level in range(len(levels)):
        writer.write_tile(level, 0, 0, encode_jpeg_tile(texture(level), TILE, 85))
        writer.offsets[level][:] = writer.offsets[level][0]  # every tile of the level is the same bytes
        writer.counts[level][:] = writer.counts[level][0]
    writer.close()
    return levels


def write_results(work: Path, size: int) -> str:
    slide = f"bench_{size}"

    def place(template, **wildcards):
        path = work / paths.fill(template, slide=slide, **wildcards)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    levels = write_slide(place(paths.SLIDE, ext="tiff"), size)
    mask_side = math.ceil(size / 64)
    mask = np.zeros((mask_side, mask_side), np.uint8)
    cv2.circle(mask, (mask_side // 2, mask_side // 2), int(mask_side * 0.45), 255, -1)
    cv2.imwrite(str(place(paths.MASK)), mask)
    side = size // TILE
    rows, cols = np.mgrid[0:side, 0:side]
    grid = np.stack([rows.ravel(), cols.ravel()], 1)
    coords = grid[:, ::-1] * TILE
    attrs = dict.fromkeys(ATTRIBUTES, "")
    attrs.update(
        slide_id=slide,
        tile_px=TILE,
        tile_px_level0=TILE,
        stride_level0=TILE,
        overlap_px=0,
        target_mpp=MPP,
        mpp_level0=MPP,
        mpp_source="file",
        level0_width=size,
        level0_height=size,
        level_downsamples=[size / w for w, _ in levels],
        min_tissue=0.0,
        mask_threshold=0.0,
        grid_rows=side,
        grid_cols=side,
    )
    TileFile(coords, attrs, np.ones(len(coords), np.float32), grid).write(place(paths.TILES))
    centre = np.hypot(*(coords + TILE / 2 - size / 2).T) / (size / 2)
    scores = {slide: {"nnpu": np.clip(1 - centre, 0, 1)}}
    write_tile_scores(place(paths.PU_TILE_SCORES, task="tumor"), scores, {slide: coords}, {}, box_size0=TILE)
    row = dict.fromkeys(SLIDE_COLUMNS, "")
    row.update(
        slide_id=slide,
        slide=paths.fill(paths.SLIDE, slide=slide, ext="tiff"),
        mask=paths.fill(paths.MASK, slide=slide),
        tiles=paths.fill(paths.TILES, slide=slide),
        status="ok",
    )
    write_manifest(place(paths.SLIDE_MANIFEST, cohort=paths.TRAIN_COHORT), [row], SLIDE_COLUMNS)
    return slide


def memory_kb(pid: int) -> dict[str, int]:
    """Resident memory now and at its peak (kB) of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def fetch(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url) as reply:
        reply.read()
        if reply.status != 200:
            raise RuntimeError(f"{url}: {reply.status}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--tiles", type=int, default=40, help="random view tiles per level")
    parser.add_argument("--port", type=int, default=8779)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_viewer"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    slide = write_results(args.out, args.size)
    written = time.perf_counter() - start
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    server = subprocess.Popen(
        [sys.executable, "-m", "slidesnake.view", str(args.out / paths.RESULTS), "--port", str(args.port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        print(server.stdout.readline().strip(), flush=True)
        base = f"http://127.0.0.1:{args.port}"
        fetch(f"{base}/api/slides")
        info = json.loads(urllib.request.urlopen(f"{base}/api/slide/{slide}").read())
        rows, rng = [], random.Random(0)
        max_level = info["max_level"]
        for level in range(max_level - 8, max_level + 1):  # from the whole slide in one 391 px view to level 0
            scale = 2 ** (max_level - level)
            cols = math.ceil(math.ceil(args.size / scale) / info["tile_size"])
            addresses = [(rng.randrange(cols), rng.randrange(cols)) for _ in range(min(args.tiles, cols * cols))]
            slide_ms = [1000 * fetch(f"{base}/tile/{slide}/{level}/{c}_{r}.jpeg") for c, r in addresses]
            overlay_ms = [
                1000 * fetch(f"{base}/overlay/{slide}/tumor/pu/nnpu/{level}/{c}_{r}.png") for c, r in addresses
            ]
            memory = memory_kb(server.pid)
            rows.append(
                {
                    "level": level,
                    "downsample": scale,
                    "tiles": len(addresses),
                    "slide_ms_median": float(np.median(slide_ms)),
                    "slide_ms_p95": float(np.percentile(slide_ms, 95)),
                    "overlay_ms_median": float(np.median(overlay_ms)),
                    "overlay_ms_p95": float(np.percentile(overlay_ms, 95)),
                    "rss_mb": memory["VmRSS"] / 1024,
                    "peak_rss_mb": memory["VmHWM"] / 1024,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    finally:
        server.terminate()
        server.wait()
    result = {
        "size": args.size,
        "slide_file_mb": (args.out / paths.fill(paths.SLIDE, slide=slide, ext="tiff")).stat().st_size / 1e6,
        "results_written_s": written,
        "levels": rows,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
    }
    (args.out / "bench_viewer.json").write_text(json.dumps(result, indent=2))
    print("| level | downsample | slide tile ms (median / p95) | overlay tile ms (median / p95) | server RSS MB |")
    for r in rows:
        print(
            f"| {r['level']} | {r['downsample']} | {r['slide_ms_median']:.0f} / {r['slide_ms_p95']:.0f} | "
            f"{r['overlay_ms_median']:.0f} / {r['overlay_ms_p95']:.0f} | {r['rss_mb']:.0f} |"
        )
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB; slide file {result['slide_file_mb']:.2f} MB; {result['machine']}")


if __name__ == "__main__":
    main()
