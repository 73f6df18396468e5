"""Measurement: the artefact QC (tissue/artefacts.py) on demo slides with artefacts rendered at known places.

Each slide is a demo layout (demo/geometry.py) without the demo's own random artefacts, plus ones placed here:
a blurred band (the renderer's Gaussian blur, sigma 1.5 um), a green, a blue and a black marker stroke, and two
folds (tissue lying twice: both stain densities x1.9). Every tissue tile of the default grid (min_tissue) is
rendered at level 0 and resampled to qc.artefact_mpp as the tiling job's pyramid read gives it, and measured.
A tile is an artefact tile of a kind when that artefact covers at least COVER of it (blur: half the tile; pen:
10% of its tissue; fold: half its tissue); a clean tile has none of any kind. Per kind: the tile-level detection
AUC of its measure (artefact tiles of that kind against clean tiles), the share of its tiles the configured
thresholds remove, and over all kinds the share of clean tiles they remove.

With --data (the folder of the two real slides) and --demo N (the first N slides of the `make demo` cohort,
rendered with the demo's own artefacts) it also runs the mask and tiling jobs on each slide, with the artefact QC
and without, and reports the tiles each loses (by kind), its artefact share and the seconds the QC adds to the
tiling job; the artefact pictures are written to --out for looking at.

    PYTHONPATH=src python benchmarks/bench_artefacts.py --slides 6 --data ../shared/data --demo 8
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import cv2
import numpy as np

from slidesnake.demo.geometry import GRID, PEN_COLOURS_OD, make_layout
from slidesnake.demo.render import SlideRenderer
from slidesnake.tissue.artefacts import ARTEFACTS, artefact_flags, measure_tiles
from slidesnake.tissue.params import ArtefactParams, TilingParams
from slidesnake.workflow.config import default_params

COVER = {"blur": 0.5, "pen": 0.1, "fold": 0.5}  # an artefact covering this share of a tile (blur) or of its tissue
# (pen, fold) makes it an artefact tile of that kind: a stroke of marker across a tile covers about 10% of it
RENDER = 1024  # the renderer's largest window (its texture period)


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def place_artefacts(layout, rng: np.random.Generator) -> None:
    """A blurred band, one stroke of each marker colour and two folds, on the layout's tissue."""
    w = layout.width
    inside = (np.argwhere(layout.tissue > 0.3) + 0.5) * GRID  # y, x
    start = int(rng.uniform(0.25, 0.6) * w)
    layout.blur_bands.append((0, start, start + int(0.08 * w)))
    for colour in PEN_COLOURS_OD.values():
        cy, cx = inside[rng.integers(len(inside))]
        steps = rng.normal(0, 0.03 * w, (6, 2))
        stroke = np.cumsum(np.vstack([[cx, cy], steps]), axis=0).astype(np.int32)
        layout.pen_strokes.append((stroke, int(0.006 * w), colour))
    for _ in range(2):
        cy, cx = inside[rng.integers(len(inside))]
        box = cv2.boxPoints(((float(cx), float(cy)), (0.15 * w, 0.03 * w), float(rng.uniform(0, 180))))
        layout.folds.append(box.astype(np.int32))


def truth_cover(layout, x: int, y: int, size: int, tissue: np.ndarray) -> dict[str, float]:
    """Share of the tile each placed artefact covers (pen, fold: of its tissue)."""
    offset = np.array([x, y], np.int32)
    pen, fold = np.zeros((size, size), np.uint8), np.zeros((size, size), np.uint8)
    for stroke, thickness, _ in layout.pen_strokes:
        cv2.polylines(pen, [stroke - offset], False, 1, thickness)
    for box in layout.folds:
        cv2.fillPoly(fold, [box - offset], 1)
    blur = sum(max(0, min(x + size, b) - max(x, a)) for _, a, b in layout.blur_bands) / size
    n = max(int(tissue.sum()), 1)
    return {
        "blur": blur,
        "pen": float((pen.astype(bool) & tissue).sum() / n),
        "fold": float((fold.astype(bool) & tissue).sum() / n),
    }


def render_tile(renderer, x: int, y: int, size: int):
    rgb = np.empty((size, size, 3), np.uint8)
    tissue = np.zeros((size, size), bool)
    for oy in range(0, size, RENDER):
        for ox in range(0, size, RENDER):
            w, h = min(RENDER, size - ox), min(RENDER, size - oy)
            part, t, _ = renderer.render(x + ox, y + oy, w, h)
            rgb[oy : oy + h, ox : ox + w], tissue[oy : oy + h, ox : ox + w] = part, t
    return rgb, tissue


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive scores above a negative), ties half."""
    if not len(positive) or not len(negative):
        return float("nan")
    scores = np.concatenate([positive, negative])
    ranks = np.argsort(np.argsort(scores, kind="stable"), kind="stable") + 1.0
    for value in np.unique(scores):  # average ranks of ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    return float(
        (ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2) / (len(positive) * len(negative))
    )


def slide_tiles(seed: int, size_px: int, tiling: TilingParams, qc: ArtefactParams, mpp0: float):
    """Measures, flags and truth of every tissue tile of one rendered slide."""
    rng = np.random.default_rng([seed, 11])
    layout = make_layout(rng, size_px, size_px, float(rng.uniform(0.05, 0.35)), False)
    place_artefacts(layout, rng)
    renderer = SlideRenderer(layout, seed)
    side0 = int(round(tiling.tile_px * tiling.mpp / mpp0))
    small = max(8, int(round(side0 * mpp0 / qc.artefact_mpp)))
    tiles, truths = [], []
    for y in range(0, size_px - side0 + 1, side0):
        for x in range(0, size_px - side0 + 1, side0):
            rgb, tissue = render_tile(renderer, x, y, side0)
            if tissue.mean() < tiling.min_tissue:
                continue
            tiles.append(cv2.resize(rgb, (small, small), interpolation=cv2.INTER_AREA))
            truths.append(truth_cover(layout, x, y, side0, tissue))
    start = time.perf_counter()
    measures = measure_tiles(tiles)
    seconds = time.perf_counter() - start
    return measures, artefact_flags(measures, qc), truths, seconds


SCORES = {"blur": lambda m: -m.focus, "pen": lambda m: m.pen, "fold": lambda m: m.fold}  # higher: more artefact


def prepare(slide: Path, out: Path, name: str, sheet_mpp: float | None, qc: ArtefactParams | None) -> dict:
    """The mask and tiling jobs on one slide (the QC with `qc`, else none); the tiling job's seconds and tiles."""
    from slidesnake.io.tile_file import TileFile
    from slidesnake.jobs import tile_slide, tissue_mask
    from slidesnake.tissue.params import MaskParams

    f = {k: out / f"{name}{s}" for k, s in (("mask", ".png"), ("info", ".json"), ("geo", ".geojson"))}
    f |= {k: out / f"{name}_{k}.jpg" for k in ("thumb", "mask_qc", "tiles_qc", "artefacts")}
    if not f["info"].exists():
        mask = default_params(MaskParams, "mask")
        tissue_mask.run(slide, name, sheet_mpp, None, mask, f["mask"], f["info"], f["geo"], f["thumb"], f["mask_qc"])
    tiles_h5 = out / f"{name}{'' if qc else '_noqc'}.h5"
    start = time.perf_counter()
    tile_slide.run(
        name,
        f["mask"],
        f["info"],
        f["thumb"],
        None,
        default_params(TilingParams, "tiling"),
        tiles_h5,
        f["tiles_qc"],
        slide_path=slide,
        artefact_params=qc,
        artefact_jpg=f["artefacts"] if qc else None,
        artefact_geojson=out / f"{name}_artefacts.geojson" if qc else None,
    )
    seconds = time.perf_counter() - start
    tiles = TileFile.read(tiles_h5)
    dropped = tiles.dropped
    kinds = {k: int(((dropped.flags >> b) & 1).sum()) if dropped else 0 for b, k in enumerate(ARTEFACTS)}
    return {
        "seconds": seconds,
        "kept": len(tiles),
        "dropped": len(dropped) if dropped else 0,
        "kinds": kinds,
        "share": float(tiles.attrs.get("artefact_share", 0.0)),
    }


def whole_slides(slides: list[tuple[str, Path, float | None]], out: Path, qc: ArtefactParams) -> list[str]:
    """Table rows: each slide's tiles, the artefact tiles dropped by kind and the QC's added seconds."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "| slide | tiles | dropped (kinds) | artefact share of tissue | tiling job s without / with QC |",
        "|---|---|---|---|---|",
    ]
    for name, path, mpp in slides:
        without = prepare(path, out, name, mpp, None)
        with_qc = prepare(path, out, name, mpp, qc)
        kinds = ", ".join(f"{k} {n}" for k, n in with_qc["kinds"].items() if n) or "-"
        lines.append(
            f"| {name} | {without['kept']} | {with_qc['dropped']} ({kinds}) | {100 * with_qc['share']:.1f}% | "
            f"{without['seconds']:.2f} / {with_qc['seconds']:.2f} |"
        )
    return lines


def demo_slides(n: int, folder: Path) -> list[tuple[str, Path, None]]:
    """The first n slides of the `make demo` cohort (the schema's demo settings), rendered into `folder`."""
    from slidesnake.demo.cohort import write_demo_slide
    from slidesnake.demo.plan import plan_cohort
    from slidesnake.workflow.config import default_config

    demo = default_config()["demo"]
    folder.mkdir(parents=True, exist_ok=True)
    slides = []
    for plan in plan_cohort(demo, demo["n_slides"])[:n]:
        path = folder / f"{plan.slide_id}.tiff"
        if not path.exists():
            write_demo_slide(plan, path, folder / "truth.png", folder / "annotation.png", folder / "stats.json")
        slides.append((plan.slide_id, path, None))
    return slides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slides", type=int, default=6)
    parser.add_argument("--size", type=int, default=8192, help="slide side in level-0 px (0.5 um/px)")
    parser.add_argument("--artefact-mpp", type=float, default=None, help="qc.artefact_mpp (default: the schema's)")
    parser.add_argument("--data", type=Path, default=None, help="folder of the two real slides (shared/data)")
    parser.add_argument("--demo", type=int, default=0, help="also run the first N slides of the make demo cohort")
    parser.add_argument("--tcga-mpp", type=float, default=0.25, help="the sheet mpp given to the TCGA slide")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_artefacts"))
    args = parser.parse_args()
    tiling = default_params(TilingParams, "tiling")
    qc = default_params(ArtefactParams, "qc", **({"artefact_mpp": args.artefact_mpp} if args.artefact_mpp else {}))
    covers, flags_all, scores, seconds, n_tiles = [], [], {k: [] for k in SCORES}, 0.0, 0
    for seed in range(args.slides):
        measures, flags, truths, took = slide_tiles(seed, args.size, tiling, qc, 0.5)
        covers += truths
        flags_all.append(flags)
        for kind, score in SCORES.items():
            scores[kind].append(np.nan_to_num(score(measures), nan=0.0, posinf=0.0, neginf=0.0))
        seconds += took
        n_tiles += len(flags)
    flags = np.concatenate(flags_all)
    cover = {k: np.array([t[k] for t in covers]) for k in SCORES}
    clean = np.all([cover[k] == 0 for k in SCORES], axis=0)
    lines = [
        f"artefact QC on {args.slides} rendered {args.size} px demo slides ({n_tiles} tissue tiles of "
        f"{tiling.tile_px} px at {tiling.mpp} um/px, measured at {qc.artefact_mpp} um/px); "
        f"{cpu_name()}, {platform.machine()}",
        "| artefact | tiles | detection AUC vs clean | removed at the defaults | ",
        "|---|---|---|---|",
    ]
    result = {"tiles": n_tiles, "clean_tiles": int(clean.sum()), "kinds": {}}
    for kind in SCORES:
        bit = ARTEFACTS.index(kind)
        positive = cover[kind] >= COVER[kind]
        value = np.concatenate(scores[kind])
        removed = float((flags[positive] > 0).mean()) if positive.any() else float("nan")
        a = auc(value[positive], value[clean])
        by_own = float(((flags[positive] >> bit) & 1).mean()) if positive.any() else float("nan")
        result["kinds"][kind] = {"tiles": int(positive.sum()), "auc": a, "removed": removed, "removed_as_kind": by_own}
        lines.append(
            f"| {kind} | {int(positive.sum())} | {a:.3f} | {100 * removed:.0f}% ({100 * by_own:.0f}% as {kind}) |"
        )
    wrong = float((flags[clean] > 0).mean())
    result["clean_removed"] = wrong
    result["measure_ms_per_tile"] = 1000 * seconds / max(n_tiles, 1)
    lines.append(f"| clean | {int(clean.sum())} | - | {100 * wrong:.1f}% wrongly removed |")
    lines.append(f"measures: {result['measure_ms_per_tile']:.2f} ms per tile (one thread, after the read)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "artefacts.json").write_text(json.dumps(result, indent=2))
    slides = []
    if args.data:
        slides += [
            ("CMU-1-Small-Region", args.data / "CMU-1-Small-Region.svs", None),
            ("TCGA-CR-7395", args.data / "TCGA-CR-7395-01A-01-TS1.svs", args.tcga_mpp),
        ]
    if args.demo:
        slides += demo_slides(args.demo, args.out / "demo")
    if slides:
        lines += ["", *whole_slides(slides, args.out / "slides", qc)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
