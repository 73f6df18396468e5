"""Plan and write the demo cohort: slides, truth and partial annotation masks, sample sheet, truth table."""

from __future__ import annotations

import json
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from slidesnake.core.atomic import atomic_output
from slidesnake.core.labels import SITE_COLUMN, TISSUE, TUMOR
from slidesnake.core.logs import progress
from slidesnake.demo.geometry import make_layout
from slidesnake.demo.plan import DemoSlidePlan, site_name
from slidesnake.demo.render import SlideRenderer
from slidesnake.figures.qc import GREEN, RED, YELLOW, draw_outline, write_rgb
from slidesnake.io.pyramid_tiff import PyramidTiffWriter, encode_jpeg_tile
from slidesnake.io.slide import Slide

TILE = 256
LEVEL_FACTOR = 4
SUPER = TILE * LEVEL_FACTOR**2  # one level-2 tile: levels 0-2 are streamed per super-tile
CHUNK = TILE * LEVEL_FACTOR  # rendered at once: one level-1 tile
TRUTH_DOWNSAMPLE = 16


def level_sizes(width: int, height: int, min_size: int = 256) -> list[tuple[int, int]]:
    """Pyramid at downsamples 1, 4, 16, ... down to about `min_size` px (at least 3 levels)."""
    sizes, ds = [], 1
    while True:
        sizes.append((math.ceil(width / ds), math.ceil(height / ds)))
        if len(sizes) >= 3 and max(sizes[-1]) <= min_size * LEVEL_FACTOR:
            return sizes
        ds *= LEVEL_FACTOR


def _downsample(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (w // LEVEL_FACTOR, h // LEVEL_FACTOR), interpolation=cv2.INTER_AREA)


_renderer: SlideRenderer | None = None


def _init_worker(plan: DemoSlidePlan) -> None:
    global _renderer
    _renderer = build_renderer(plan)


def build_renderer(plan: DemoSlidePlan) -> SlideRenderer:
    rng = np.random.default_rng([plan.seed, 0])
    layout = make_layout(rng, plan.width, plan.height, plan.tumor_fraction, plan.artefacts)
    return SlideRenderer(layout, plan.seed, plan.tumor_atypia, plan.site, plan.site_stain_shift)


def render_super_tile(args) -> dict:
    """Encode the level 0-2 tiles of one super-tile; return them with its level-3 block and truth."""
    sx, sy, quality = args
    renderer = _renderer
    width, height = renderer.layout.width, renderer.layout.height
    x0, y0 = sx * SUPER, sy * SUPER
    glass = tuple(int(v) for v in renderer.stain.glass)
    level1 = np.empty((SUPER // LEVEL_FACTOR, SUPER // LEVEL_FACTOR, 3), np.uint8)
    level1[:] = glass
    truth_size = SUPER // TRUTH_DOWNSAMPLE
    tissue_frac = np.zeros((truth_size, truth_size), np.uint8)
    tumor_frac = np.zeros((truth_size, truth_size), np.uint8)
    tiles = []
    for cy in range(y0, min(y0 + SUPER, height), CHUNK):
        for cx in range(x0, min(x0 + SUPER, width), CHUNK):
            w, h = min(CHUNK, width - cx), min(CHUNK, height - cy)
            rgb, tissue, tumor = renderer.render(cx, cy, w, h)
            chunk = np.empty((CHUNK, CHUNK, 3), np.uint8)
            chunk[:] = glass
            chunk[:h, :w] = rgb
            for ty in range(0, h, TILE):
                for tx in range(0, w, TILE):
                    tiles.append(
                        (
                            0,
                            (cx + tx) // TILE,
                            (cy + ty) // TILE,
                            encode_jpeg_tile(chunk[ty : ty + TILE, tx : tx + TILE], TILE, quality),
                        )
                    )
            ox, oy = (cx - x0) // LEVEL_FACTOR, (cy - y0) // LEVEL_FACTOR
            level1[oy : oy + TILE, ox : ox + TILE] = _downsample(chunk)
            masks = np.zeros((2, CHUNK, CHUNK), np.float32)
            masks[0, :h, :w], masks[1, :h, :w] = tissue, tumor
            tx0, ty0 = (cx - x0) // TRUTH_DOWNSAMPLE, (cy - y0) // TRUTH_DOWNSAMPLE
            n = CHUNK // TRUTH_DOWNSAMPLE
            for target, mask in ((tissue_frac, masks[0]), (tumor_frac, masks[1])):
                small = cv2.resize(mask, (n, n), interpolation=cv2.INTER_AREA)
                target[ty0 : ty0 + n, tx0 : tx0 + n] = np.round(small * 255).astype(np.uint8)
    l1w = math.ceil(min(SUPER, width - x0) / LEVEL_FACTOR)
    l1h = math.ceil(min(SUPER, height - y0) / LEVEL_FACTOR)
    for ty in range(0, l1h, TILE):
        for tx in range(0, l1w, TILE):
            tiles.append(
                (
                    1,
                    (x0 // LEVEL_FACTOR + tx) // TILE,
                    (y0 // LEVEL_FACTOR + ty) // TILE,
                    encode_jpeg_tile(level1[ty : ty + TILE, tx : tx + TILE], TILE, quality),
                )
            )
    level2 = _downsample(level1)
    tiles.append((2, sx, sy, encode_jpeg_tile(level2, TILE, quality)))
    return {
        "sx": sx,
        "sy": sy,
        "tiles": tiles,
        "level3": _downsample(level2),
        "tissue": tissue_frac,
        "tumor": tumor_frac,
    }


def partial_annotation(truth: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """PANDA-style mask where only about `fraction` of the tumor pixels keep label 2 (the rest read 1)."""
    annotation = truth.copy()
    annotation[truth == TUMOR] = TISSUE
    tumor_pixels = int((truth == TUMOR).sum())
    target = int(round(fraction * tumor_pixels))
    if target == 0:
        return annotation
    n, labels = cv2.connectedComponents((truth == TUMOR).astype(np.uint8), connectivity=8)
    done = 0
    for component in rng.permutation(np.arange(1, n)):
        ys, xs = np.nonzero(labels == component)
        need = target - done
        if need <= 0:
            break
        if len(ys) > need:  # annotate the part nearest a random point: a compact partial outline
            i = rng.integers(len(ys))
            order = np.argsort((ys - ys[i]) ** 2 + (xs - xs[i]) ** 2)[:need]
            ys, xs = ys[order], xs[order]
        annotation[ys, xs] = TUMOR
        done += len(ys)
    return annotation


def write_demo_slide(
    plan: DemoSlidePlan, slide_path: Path, truth_path: Path, annotation_path: Path, stats_path: Path, workers: int = 1
) -> dict:
    """Write one synthetic slide and its masks; memory is bounded by the super-tile, not the slide."""
    sizes = level_sizes(plan.width, plan.height)
    grid_x, grid_y = math.ceil(plan.width / SUPER), math.ceil(plan.height / SUPER)
    level3 = np.empty((grid_y * SUPER // 64, grid_x * SUPER // 64, 3), np.uint8)
    truth_h, truth_w = math.ceil(plan.height / TRUTH_DOWNSAMPLE), math.ceil(plan.width / TRUTH_DOWNSAMPLE)
    tissue_frac = np.zeros((grid_y * SUPER // TRUTH_DOWNSAMPLE, grid_x * SUPER // TRUTH_DOWNSAMPLE), np.uint8)
    tumor_frac = np.zeros_like(tissue_frac)
    jobs = [(sx, sy, plan.jpeg_quality) for sy in range(grid_y) for sx in range(grid_x)]
    description = (
        f"slidesnake synthetic H&E demo slide {plan.slide_id}|label={plan.label}|mpp={plan.mpp}|seed={plan.seed}"
    )
    with atomic_output(slide_path) as tmp:
        writer = PyramidTiffWriter(tmp, sizes, plan.mpp, TILE, description)
        if workers > 1:
            pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(plan,))
            results = pool.map(render_super_tile, jobs)
        else:
            pool = None
            _init_worker(plan)
            results = map(render_super_tile, jobs)
        n = SUPER // 64
        t = SUPER // TRUTH_DOWNSAMPLE
        for result in progress(results, f"{plan.slide_id} super-tiles", "tile", total=len(jobs)):
            for level, tx, ty, data in result["tiles"]:
                writer.write_tile(level, tx, ty, data)
            sx, sy = result["sx"], result["sy"]
            level3[sy * n : (sy + 1) * n, sx * n : (sx + 1) * n] = result["level3"]
            tissue_frac[sy * t : (sy + 1) * t, sx * t : (sx + 1) * t] = result["tissue"]
            tumor_frac[sy * t : (sy + 1) * t, sx * t : (sx + 1) * t] = result["tumor"]
        if pool:
            pool.shutdown()
        coarse = level3
        for level in range(3, len(sizes)):
            w, h = sizes[level]
            coarse_level = coarse[:h, :w]
            gx, gy = writer.grid[level]
            for ty in range(gy):
                for tx in range(gx):
                    writer.write_tile(
                        level,
                        tx,
                        ty,
                        encode_jpeg_tile(
                            coarse_level[ty * TILE : (ty + 1) * TILE, tx * TILE : (tx + 1) * TILE],
                            TILE,
                            plan.jpeg_quality,
                        ),
                    )
            coarse = _downsample(coarse)
        writer.close()
    tissue_frac, tumor_frac = tissue_frac[:truth_h, :truth_w], tumor_frac[:truth_h, :truth_w]
    truth = np.zeros(tissue_frac.shape, np.uint8)
    truth[tissue_frac >= 128] = TISSUE
    truth[tumor_frac >= 128] = TUMOR
    del tissue_frac, tumor_frac
    annotation = partial_annotation(truth, plan.annotation_fraction, np.random.default_rng([plan.seed, 5]))
    for path, image in ((truth_path, truth), (annotation_path, annotation)):
        with atomic_output(path) as tmp:
            cv2.imwrite(str(tmp), image)
    tissue_px, tumor_px = int((truth > 0).sum()), int((truth == TUMOR).sum())
    stats = {
        **asdict(plan),
        "levels": [list(s) for s in sizes],
        "truth_downsample": TRUTH_DOWNSAMPLE,
        "tissue_area_fraction": round(tissue_px / truth.size, 4),
        "tumor_fraction_of_tissue": round(tumor_px / max(tissue_px, 1), 4),
        "annotated_fraction_of_tumor": round(int((annotation == TUMOR).sum()) / max(tumor_px, 1), 4),
    }
    with atomic_output(stats_path) as tmp:
        tmp.write_text(json.dumps(stats, indent=2))
    return stats


def write_truth_overview(
    slide_path: Path, truth_path: Path, annotation_path: Path, out_path: Path, downsample: float = 16
) -> None:
    """Thumbnail read back from the written pyramid with truth tissue (green), tumor (red) and the
    partial tumor annotation (yellow) outlined."""
    with Slide(slide_path) as slide:
        rgb = slide.read_downsampled(downsample)
    truth = cv2.imread(str(truth_path), cv2.IMREAD_GRAYSCALE)
    annotation = cv2.imread(str(annotation_path), cv2.IMREAD_GRAYSCALE)
    overview = draw_outline(rgb, truth >= TISSUE, GREEN)
    overview = draw_outline(overview, truth == TUMOR, RED)
    overview = draw_outline(overview, annotation == TUMOR, YELLOW)
    with atomic_output(out_path) as tmp:
        write_rgb(tmp, overview)


def write_cohort_tables(
    stats_paths: list[Path],
    slides: dict[str, Path],
    annotations: dict[str, Path],
    sheet_path: Path,
    truth_path: Path,
    columns: dict[str, dict[str, str]] | None = None,
) -> None:
    """The demo sample sheet (as a user would write it, absolute paths, each slide's staining site; with
    `columns`, slide -> the sheet's other columns: the demo's outcomes) and the per-slide truth table."""
    rows = [json.loads(Path(p).read_text()) for p in stats_paths]
    extra = sorted({k for values in (columns or {}).values() for k in values} - {"label"})
    sheet = pd.DataFrame(
        {
            "slide_id": [r["slide_id"] for r in rows],
            "source": [str(Path(slides[r["slide_id"]]).resolve()) for r in rows],
            "label": [r["label"] for r in rows],
            "patient_id": [r["patient_id"] for r in rows],
            SITE_COLUMN: [site_name(r["site"]) for r in rows],
            "annotation": [str(Path(annotations[r["slide_id"]]).resolve()) for r in rows],
            **{k: [columns[r["slide_id"]].get(k) for r in rows] for k in extra},
        }
    )
    truth = pd.DataFrame(
        [
            {
                k: r[k]
                for k in (
                    "slide_id",
                    "label",
                    "patient_id",
                    "tumor_fraction_of_tissue",
                    "tissue_area_fraction",
                    "annotated_fraction_of_tumor",
                )
            }
            for r in rows
        ]
    )
    for path, table in ((sheet_path, sheet), (truth_path, truth)):
        with atomic_output(path) as tmp:
            table.to_csv(tmp, sep="\t", index=False)
