"""Measurement: the scale check's estimate (tissue/scale.py) against known mpp values.

CMU-1 (declared 0.499 um/px, the reference nuclear size is calibrated on it) is resampled to coarser known mpp
values and written as TIFFs declaring them; demo slides are rendered at several plan mpp values (their nuclei
are drawn in level-0 pixels, not at physical sizes: the estimate cannot follow their declared mpp); the TCGA
slide declares no mpp (its estimate is reported alone). Each estimate is repeated over tile-sampling seeds;
the table gives estimated / true mpp (median over seeds) and its spread (max - min over seeds), and the
nuclei's own spread (IQR / median of the diameters).

    PYTHONPATH=src python benchmarks/bench_scale.py --data ../shared/data --out /tmp/bench_scale
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from slidesnake.demo.cohort import write_demo_slide
from slidesnake.demo.plan import plan_cohort
from slidesnake.io.pyramid_tiff import write_single_level
from slidesnake.io.slide import Slide
from slidesnake.tissue import scale
from slidesnake.tissue.masking import tissue_mask
from slidesnake.tissue.params import MaskParams, QcParams
from slidesnake.workflow.config import default_config, default_params


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def estimates(path: Path, seeds: int, default_mpp: float | None = None) -> list[scale.ScaleEstimate]:
    """The estimate of one slide for each tile-sampling seed, over the mask job's tissue mask."""
    mask_params = default_params(MaskParams, "mask")
    reference = default_params(QcParams, "qc").nucleus_um
    with Slide(path, default_mpp=default_mpp) as slide:
        rgb, _ = slide.thumbnail_at_mpp(mask_params.mpp)
        ds = (slide.dimensions[0] / rgb.shape[1], slide.dimensions[1] / rgb.shape[0])
        mask, _, _ = tissue_mask(rgb, slide.mpp * (ds[0] + ds[1]) / 2, mask_params)
        return [scale.estimate_slide(slide, mask, ds, reference, seed) for seed in range(seeds)]


def row(name: str, true_mpp: float | None, found: list[scale.ScaleEstimate], seconds: float) -> str:
    mpps = np.array([e.mpp for e in found if e.mpp is not None])
    if not len(mpps):
        return f"| {name} | {true_mpp} | - | - | - | {found[0].reason} | {seconds:.1f} |"
    nuclei = int(np.median([e.nuclei for e in found]))
    spread = np.median([e.spread for e in found])
    estimate = f"{np.median(mpps):.3f}"
    if true_mpp is None:
        ratio = "(no true mpp)"
    else:
        r = mpps / true_mpp
        ratio = f"{np.median(r):.2f} ({r.min():.2f}-{r.max():.2f})"
    return f"| {name} | {true_mpp or '-'} | {estimate} | {ratio} | {nuclei} | {spread:.2f} | {seconds:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_scale"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--demo-px", type=int, default=4096)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []

    cmu = args.data / "CMU-1-Small-Region.svs"
    with Slide(cmu) as slide:
        cmu_mpp = slide.mpp
        rgb = slide.read_region(0, 0, slide.dimensions, slide.dimensions)
    for factor in (1.0, 0.7, 0.5):
        true_mpp = cmu_mpp / factor
        path = args.out / f"cmu_{factor}.tiff"
        small = rgb if factor == 1.0 else cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        write_single_level(path, small, true_mpp)
        start = time.perf_counter()
        found = estimates(path, args.seeds)
        rows.append(row(f"CMU-1 resampled x{factor}", round(true_mpp, 3), found, time.perf_counter() - start))

    plan = next(p for p in plan_cohort(default_config()["demo"], 4, 11) if p.label == "tumor")
    for mpp in (0.25, 0.5, 1.0):
        demo = replace(plan, slide_id=f"demo_{mpp}", width=args.demo_px, height=args.demo_px, mpp=mpp)
        folder = args.out / demo.slide_id
        folder.mkdir(exist_ok=True)
        write_demo_slide(demo, folder / "s.tiff", folder / "t.png", folder / "a.png", folder / "s.json")
        start = time.perf_counter()
        found = estimates(folder / "s.tiff", args.seeds)
        rows.append(row(f"demo tumor slide, plan mpp {mpp}", mpp, found, time.perf_counter() - start))

    start = time.perf_counter()
    found = estimates(args.data / "TCGA-CR-7395-01A-01-TS1.svs", args.seeds, default_mpp=0.5)
    rows.append(row("TCGA-CR-7395-01A-01-TS1 (no mpp)", None, found, time.perf_counter() - start))

    print(f"CPU: {cpu_name()}; reference nucleus {default_params(QcParams, 'qc').nucleus_um} um; {args.seeds} seeds")
    print()
    print("| slide | true mpp | estimated mpp | estimated / true (min-max over seeds) | nuclei | IQR/median | s |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
