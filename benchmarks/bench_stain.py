"""Benchmark: stain normalisation throughput against the tile read + decode rate it must not slow down.

On one synthetic slide, measured in the same run: (a) read + decode alone, tiles/s of the feature job's own
reader (raw JPEG tiles, libjpeg-turbo on the CPU / nvJPEG on CUDA); (b) Macenko and Reinhard on the decoded
tiles, at the encoder's input size (where the workflow normalises) and at the full tile size, fit and apply
together. Reports each method's time per tile as a share of the decode time per tile (target: < 10%).
A CUDA device is measured when there is one; otherwise its line says "not measured".

    PYTHONPATH=src python benchmarks/bench_stain.py --size 20000 --tiles 512
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
from bench_features import make_slide, read_alone, synchronize

from slidesnake.features.params import FeatureParams
from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_reader import tile_stream
from slidesnake.stain.methods import METHODS
from slidesnake.stain.normalise import StainNormaliser, fit_reference
from slidesnake.stain.sample import resize_tiles
from slidesnake.workflow.config import default_params


def decoded_tiles(slide_path: Path, tiles: TileFile, batch_size: int) -> list[torch.Tensor]:
    with Slide(slide_path, require_mpp=False) as slide:
        return list(
            tile_stream(
                slide_path, slide, tiles.coords, tiles.size0, tiles.tile_px, "auto", torch.device("cpu"), batch_size, 0
            )
        )


def normalise_rate(batches: list[torch.Tensor], method: str, size: int, device: torch.device) -> float:
    """Tiles/s of fitting and normalising every tile (already resized to `size`, on `device`)."""
    resized = [resize_tiles(b, size).to(device) for b in batches]
    normalise = StainNormaliser(fit_reference(method, resized[0], "first batch"))
    normalise(resized[0])
    synchronize(device)
    start = time.perf_counter()
    for batch in resized:
        normalise(batch)
    synchronize(device)
    return sum(len(b) for b in resized) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--tiles", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a feature job on the CPU has 1-3)")
    parser.add_argument("--encoder-px", type=int, default=224)
    parser.add_argument("--out", type=Path, default=Path("/tmp/slidesnake-bench-stain"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    slide_path, tiles_h5 = make_slide(args.size, args.out, 2)
    full = TileFile.read(tiles_h5)
    n = min(args.tiles, len(full))
    tiles = TileFile(full.coords[:n], full.attrs, full.tissue_fraction[:n], full.grid_row_col[:n])
    params = default_params(
        FeatureParams, "features", model="resnet50_trunc", weights="random", batch_size=args.batch_size, num_workers=0
    )
    decode = read_alone(slide_path, tiles, params, "raw_jpeg", torch.device("cpu"))
    batches = decoded_tiles(slide_path, tiles, args.batch_size)
    report = {
        "machine": f"{platform.node()}, {platform.machine()}, {os.cpu_count()} cores",
        "torch_threads": args.threads,
        "tiles": n,
        "tile_px": tiles.tile_px,
        "read_decode_tiles_per_s_one_process": decode,
        "methods": {},
    }
    print(f"read + decode (raw JPEG, one process): {decode:.0f} tiles/s = {1000 / decode:.2f} ms/tile", flush=True)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for method in METHODS:
        for device in devices:
            for size in (args.encoder_px, tiles.tile_px):
                rate = normalise_rate(batches, method, size, device)
                share = decode / rate
                report["methods"][f"{method} {device.type} {size}px"] = {
                    "tiles_per_s": rate,
                    "share_of_decode_time": share,
                }
                print(
                    f"{method} on {device.type} at {size} px: {rate:.0f} tiles/s = {1000 / rate:.2f} ms/tile, "
                    f"{100 * share:.0f}% of the decode time per tile",
                    flush=True,
                )
        if len(devices) == 1:
            report["methods"][f"{method} cuda"] = "not measured (no GPU)"
            print(f"{method} on cuda: not measured (no GPU)")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
