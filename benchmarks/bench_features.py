"""Benchmark: feature extraction throughput against the two limits it can be bound by.

Reports tiles/s for (a) the encoder alone on device-resident tensors, (b) reading and decoding alone
(the DataLoader with its workers, no model), (c) end to end, and the ratio (c) / min(a, b), for the
OpenSlide reader and the raw-JPEG reader (nvJPEG on CUDA, libjpeg-turbo on CPU).

    PYTHONPATH=src python benchmarks/bench_features.py --size 40000 --encoder resnet50_trunc --tiles 2048 --workers 8
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

from slidesnake.features.encoders import build_encoder
from slidesnake.features.extract import encoder_threads, extract_features, preprocess
from slidesnake.features.params import FeatureParams
from slidesnake.io.slide import Slide
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_reader import resolve_device, tile_stream
from slidesnake.tissue.params import MaskParams, TilingParams
from slidesnake.workflow.config import default_config, default_params


def make_slide(size: int, folder: Path, workers: int) -> tuple[Path, Path]:
    """A synthetic tumor slide of size x size px, masked and tiled with the default parameters."""
    from slidesnake.demo.cohort import write_demo_slide
    from slidesnake.demo.plan import plan_cohort
    from slidesnake.jobs import tile_slide, tissue_mask

    slide = folder / f"bench_{size}.tiff"
    tiles = folder / f"bench_{size}.h5"
    if not tiles.exists():
        plan = replace(
            next(p for p in plan_cohort(default_config()["demo"], 4, 5) if p.label == "tumor"),
            width=size,
            height=size,
            slide_id="bench",
        )
        write_demo_slide(
            plan, slide, folder / "truth.png", folder / "annotation.png", folder / "stats.json", workers=workers
        )
        m = [folder / f"mask{s}" for s in (".png", ".json", ".geojson", "_t.jpg", "_q.jpg")]
        tissue_mask.run(slide, "bench", None, None, default_params(MaskParams, "mask"), *m)
        tile_slide.run(
            "bench", m[0], m[1], m[3], None, default_params(TilingParams, "tiling"), tiles, folder / "tiles_qc.jpg"
        )
    return slide, tiles


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def encoder_alone(params: FeatureParams, device, n_batches: int, bf16: bool) -> tuple[float, torch.Tensor]:
    """Tiles/s of the encoder on device-resident tiles (bf16 autocast or fp32), and its output on them."""
    model, spec, _ = build_encoder(params.model, params.weights)
    model = model.to(device)
    cuda = device.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    tiles = torch.randint(
        0,
        255,
        (params.batch_size, 3, 512, 512),
        dtype=torch.uint8,
        device=device,
        generator=torch.Generator(device).manual_seed(0),
    )
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    with torch.inference_mode(), autocast:
        for _ in range(2):
            out = model(preprocess(tiles, spec)).float()
        synchronize(device)
        start = time.perf_counter()
        for _ in range(n_batches):
            x = preprocess(tiles, spec)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            model(x)
        synchronize(device)
    return n_batches * params.batch_size / (time.perf_counter() - start), out.cpu()


def read_alone(slide_path: Path, tiles: TileFile, params: FeatureParams, reader: str, device) -> float:
    """Tiles/s of the feature job's own reader (tile_stream) with no model."""
    with Slide(slide_path, require_mpp=False) as slide:
        stream = tile_stream(
            slide_path,
            slide,
            tiles.coords,
            tiles.size0,
            tiles.tile_px,
            reader,
            device,
            params.batch_size,
            params.num_workers,
        )
    start, n = time.perf_counter(), 0
    for batch in stream:
        n += len(batch)
    synchronize(device)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=40_000)
    parser.add_argument("--encoder", default="resnet50_trunc")
    parser.add_argument("--tiles", type=int, default=1024, help="tiles per measurement (first N in order)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=None, help="the job's threads (default: workers + 1, as the rule)"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/slidesnake-bench-features"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    slide_path, tiles_h5 = make_slide(args.size, args.out, args.workers)
    full = TileFile.read(tiles_h5)
    n = min(args.tiles, len(full))
    tiles = TileFile(full.coords[:n], full.attrs, full.tissue_fraction[:n], full.grid_row_col[:n])
    coords = tiles.coords
    subset = args.out / "subset.h5"
    tiles.write(subset)
    params = default_params(
        FeatureParams,
        "features",
        model=args.encoder,
        weights="random",
        batch_size=args.batch_size,
        num_workers=args.workers,
    )
    device = resolve_device("auto")
    job_threads = args.threads or args.workers + 1  # what rule extract_features asks for
    torch.set_num_threads(encoder_threads(job_threads, args.workers, device))
    report = {
        "machine": f"{platform.node()}, {platform.machine()}, {__import__('os').cpu_count()} cores, "
        f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'no GPU'}",
        "device": str(device),
        "encoder": args.encoder,
        "tiles": len(coords),
        "batch_size": args.batch_size,
        "workers": args.workers,
        "job_threads": job_threads,
        "torch_threads": torch.get_num_threads(),
        "slide_px": args.size,
    }
    n_batches = max(2, min(20, len(coords) // args.batch_size)) if device.type == "cuda" else 2
    fp32, fp32_out = encoder_alone(params, device, n_batches, bf16=False)
    bf16, bf16_out = encoder_alone(params, device, n_batches, bf16=True)
    cosine = torch.nn.functional.cosine_similarity(fp32_out, bf16_out, dim=1)
    report["encoder_fp32_tiles_per_s"], report["encoder_bf16_tiles_per_s"] = fp32, bf16
    report["bf16_cosine_to_fp32_min"], report["bf16_cosine_to_fp32_mean"] = float(cosine.min()), float(cosine.mean())
    print(
        f"encoder alone: fp32 {fp32:.1f} tiles/s, bf16 autocast {bf16:.1f} tiles/s ({bf16 / fp32:.2f}x), "
        f"cosine bf16 vs fp32 min {cosine.min():.4f}",
        flush=True,
    )
    for reader in ("openslide", "raw_jpeg"):
        b = read_alone(slide_path, tiles, params, reader, device)
        summary = extract_features(
            slide_path,
            subset,
            args.out / f"features_{reader}.h5",
            replace(params, reader=reader),
            "bench",
            threads=job_threads,
        )
        c = summary["tiles_per_s"]
        a = bf16 if summary["precision"] == "bf16" else fp32  # the encoder alone in the precision the job chose
        report[reader] = {
            "precision": summary["precision"],
            "a_encoder_tiles_per_s": a,
            "b_read_decode_tiles_per_s": b,
            "c_end_to_end_tiles_per_s": c,
            "ratio_c_to_min_ab": c / min(a, b),
        }
        print(
            f"{reader}: read+decode {b:.0f} tiles/s, end to end {c:.0f} tiles/s ({summary['precision']}), "
            f"encoder alone {a:.0f} tiles/s, ratio {report[reader]['ratio_c_to_min_ab']:.2f}",
            flush=True,
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
