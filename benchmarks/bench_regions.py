"""Benchmark: HIPT region features against the ViT-256 that bounds them.

On one synthetic slide, measured in the same run: (a) ViT-256 alone on device-resident 256 px patches
(patches/s), (b) ViT-4K alone on device-resident patch-token grids (regions/s), (c) end to end: reading every
patch of every region, ViT-256, ViT-4K, writing the file (regions/s and patches/s), and (c) / (a) in patches/s.

    PYTHONPATH=src python benchmarks/bench_regions.py --size 16384 --patches-per-side 8 --mpp 1.0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
from bench_features import make_slide, synchronize

from slidesnake.features.extract import preprocess
from slidesnake.features.hipt import VIT256_DIM
from slidesnake.features.params import RegionFeatureParams
from slidesnake.features.regions import encode_regions, load_region_encoder
from slidesnake.io.tile_file import TileFile
from slidesnake.jobs import tile_regions
from slidesnake.tissue.params import RegionParams
from slidesnake.workflow.config import default_params


def timed(function, repeats: int, device) -> float:
    function()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    synchronize(device)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=16_384)
    parser.add_argument("--patches-per-side", type=int, default=8)
    parser.add_argument("--mpp", type=float, default=1.0, help="region mpp (the demo's setting)")
    parser.add_argument("--regions-per-batch", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/slidesnake-bench-regions"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    slide_path, _ = make_slide(args.size, args.out, 2)
    regions_h5 = args.out / "regions.h5"
    region_params = default_params(RegionParams, "regions", patches_per_side=args.patches_per_side, mpp=args.mpp)
    tile_regions.run("bench", args.out / "mask.png", args.out / "mask.json", region_params, args.mpp, regions_h5)
    params = default_params(
        RegionFeatureParams,
        "region_features",
        vit256_weights="random",
        vit4k_weights="random",
        regions_per_batch=args.regions_per_batch,
        num_workers=args.workers,
    )
    encoder = load_region_encoder(params, args.threads)
    device, k = encoder.device, args.patches_per_side
    n_patches = args.regions_per_batch * k * k
    patches = torch.randint(0, 255, (n_patches, 3, 256, 256), dtype=torch.uint8, device=device)
    grids = torch.randn(args.regions_per_batch, VIT256_DIM, k, k, device=device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with torch.inference_mode(), autocast:
        vit256 = n_patches / timed(lambda: encoder.vit256(preprocess(patches, encoder.spec)), 2, device)
        vit4k = args.regions_per_batch / timed(lambda: encoder.vit4k(grids), 5, device)
    summary = encode_regions(encoder, slide_path, regions_h5, args.out / "region_features.h5", "bench")
    report = {
        "machine": f"{platform.node()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'no GPU'}",
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "regions": len(TileFile.read(regions_h5)),
        "patches_per_region": k * k,
        "a_vit256_patches_per_s": vit256,
        "b_vit4k_regions_per_s": vit4k,
        "c_end_to_end": summary,
        "ratio_c_to_a_patches": summary["patches_per_s"] / vit256,
    }
    print(
        f"(a) ViT-256 alone {vit256:.1f} patches/s; (b) ViT-4K alone {vit4k:.1f} regions/s; "
        f"(c) end to end {summary['regions_per_s']} regions/s = {summary['patches_per_s']} patches/s; "
        f"(c)/(a) {report['ratio_c_to_a_patches']:.2f}"
    )
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
