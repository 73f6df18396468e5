"""Figure stages: heatmaps and galleries per slide, cohort figures per task, UMAP per encoder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd

from .atomic import atomic_output
from .figures import cohort, umap_view
from .figures.heatmap import high_score_regions, render_heatmap
from .figures.slide_figures import save_gallery, save_heatmap_figure
from .geojson import write_geojson
from .qc import GREEN, RED, YELLOW, write_rgb
from .tile_scores import read_tile_scores

log = logging.getLogger(__name__)


def read_label_png(path: Path | None) -> np.ndarray | None:
    return None if path is None else cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def run_heatmaps(source: str, score_paths: list[Path], slides: dict[str, dict], params: dict, labels: dict[str, str],
                 out_dir: Path) -> None:
    """One heatmap, high-score GeoJSON and top-k gallery per slide that has scores from `source`."""
    pu = source == "pu"
    scores = read_tile_scores(score_paths, "nnpu" if pu else "score")
    normalisation = "none" if pu else "rank"
    score_label = "tile tumor probability (nnPU)" if pu else "attention / tile score (rank within slide)"
    out_dir.mkdir(parents=True, exist_ok=True)
    for slide, files in slides.items():
        if slide not in scores:
            raise ValueError(f"no {source} tile scores for slide '{slide}'")
        coords, values = scores[slide]
        with h5py.File(files["tiles"], "r") as h5:
            size0 = int(h5["coords"].attrs["patch_size_level0"])
        truth, annotation = read_label_png(files.get("truth")), read_label_png(files.get("annotation"))
        image, score, covered, downsample = render_heatmap(
            files["slide"], coords, values, size0, read_label_png(files["mask"]), truth, annotation,
            params["cmap"], params["alpha"], params["smooth_px"], normalisation, files.get("mpp"))
        legend = [("tissue", GREEN)] + ([("truth tumor", RED)] if truth is not None else []) + \
                 ([("annotated tumor", YELLOW)] if annotation is not None else [])
        with atomic_output(out_dir / f"{slide}.jpg") as tmp:
            save_heatmap_figure(tmp, image, f"{slide} ({labels.get(slide) or 'unlabelled'}): {source}",
                                params["cmap"], score_label, legend)
        with atomic_output(out_dir / f"{slide}.geojson") as tmp:
            write_geojson(tmp, high_score_regions(score, covered, downsample, params["region_threshold"], slide))
        with atomic_output(out_dir / f"{slide}_top_tiles.jpg") as tmp:
            save_gallery(tmp, files["slide"], coords, values, size0, params["top_k"],
                         f"{slide}: top {params['top_k']} tiles by {source}", files.get("mpp"))
    log.info("%s: heatmaps of %d slides in %s", source, len(slides), out_dir)


def run_cohort_figures(classes: list[str], predictions: dict[str, list[Path]], metrics: dict[str, list[Path]],
                       tiles: dict[str, Path], masks: dict[str, Path], labels: dict[str, str], outputs: dict) -> dict:
    tables = {m: pd.concat([pd.read_csv(p) for p in paths]) for m, paths in predictions.items()}
    positive = classes[-1]
    with atomic_output(outputs["roc"]) as tmp:
        summary = cohort.roc_figure(tmp, tables, positive)
    with atomic_output(outputs["confusion"]) as tmp:
        cohort.confusion_figure(tmp, tables, classes)
    with atomic_output(outputs["training_curves"]) as tmp:
        cohort.training_curves_figure(tmp, metrics)
    per_slide = []
    for slide, path in tiles.items():
        with h5py.File(path, "r") as h5:
            n = len(h5["coords"])
        info = json.loads(Path(masks[slide]).read_text())
        per_slide.append({"slide_id": slide, "tiles": n, "tissue_mm2": info["tissue_area_mm2"],
                          "label": labels.get(slide)})
    table = pd.DataFrame(per_slide)
    with atomic_output(outputs["tiles_per_slide"]) as tmp:
        cohort.per_slide_bars(tmp, table, "tiles", "tiles")
    with atomic_output(outputs["tissue_area"]) as tmp:
        cohort.per_slide_bars(tmp, table, "tissue_mm2", "tissue area (mm²)")
    return summary


def run_umap(features: dict[str, Path], tiles: dict[str, Path], thumbnails: dict[str, Path], labels: dict[str, str],
             scores_path: Path | None, max_tiles: int, seed: int, scatter_path: Path, rgb_paths: dict[str, Path]) -> None:
    slides = list(features)
    data = []
    for slide in slides:
        with h5py.File(features[slide], "r") as h5:
            data.append((h5["features"][:], h5["coords"][:]))
    keep = umap_view.sample_tiles([len(f) for f, _ in data], max_tiles, seed)
    stacked = np.concatenate([f[k] for (f, _), k in zip(data, keep)])
    slide_of = np.concatenate([[s] * len(k) for s, k in zip(slides, keep)])
    colours = umap_view.as_rgb(umap_view.embed(stacked, 3, seed))
    flat = umap_view.embed(stacked, 2, seed)
    tile_scores = None
    if scores_path is not None:
        scores = read_tile_scores([scores_path], "nnpu")
        tile_scores = np.concatenate([scores[s][1][k] if s in scores else np.full(len(k), np.nan)
                                      for s, k in zip(slides, keep)])
    with atomic_output(scatter_path) as tmp:
        umap_view.scatter_figure(tmp, flat, np.array([labels.get(s) or "unlabelled" for s in slide_of]),
                                 tile_scores, f"UMAP of {len(stacked)} tiles from {len(slides)} slides")
    for slide, (feats, coords), k in zip(slides, data, keep):
        thumbnail = cv2.cvtColor(cv2.imread(str(thumbnails[slide])), cv2.COLOR_BGR2RGB)
        with h5py.File(tiles[slide], "r") as h5:
            size0 = int(h5["coords"].attrs["patch_size_level0"])
            width = int(h5["coords"].attrs["level0_width"])
        view = umap_view.rgb_view(thumbnail, coords[k], colours[slide_of == slide], size0, width / thumbnail.shape[1])
        with atomic_output(rgb_paths[slide]) as tmp:
            write_rgb(tmp, view)
