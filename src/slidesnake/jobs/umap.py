"""Rule umap: UMAP of tile features (a sample of at most max_tiles, spread over slides): a 2-D scatter by
slide label and PU tumor probability, and the 3-D embedding as colours at the tiles' places on each slide."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.figures import umap_view
from slidesnake.figures.qc import write_rgb
from slidesnake.io.feature_file import FEATURES, feature_shape
from slidesnake.io.manifest import read_manifest
from slidesnake.io.tile_file import COORDS, TileFile
from slidesnake.io.tile_scores import PU_SCORE, read_tile_scores
from slidesnake.workflow import paths


def read_rows(path: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features and coords of the given (sorted) rows only: memory follows the sample, not the cohort."""
    with h5py.File(path, "r") as h5:
        return h5[FEATURES][rows] if len(rows) else np.zeros((0, h5[FEATURES].shape[1]), np.float32), h5[COORDS][rows]


def run(
    feature_manifest: Path,
    slide_manifest: Path,
    labels: dict[str, str],
    pu_scores: Path | None,
    max_tiles: int,
    seed: int,
    scatter_path: Path,
    rgb_dir: Path,
) -> None:
    """Embed a per-slide sample of tiles; write the scatter figure and one RGB view per slide into `rgb_dir`."""
    features = read_manifest(feature_manifest)
    slides_info = read_manifest(slide_manifest)
    slides = list(features)
    keep = umap_view.sample_tiles([feature_shape(features[s]["features"])[0] for s in slides], max_tiles, seed)
    sampled = [read_rows(features[s]["features"], k) for s, k in zip(slides, keep, strict=False)]
    stacked = np.concatenate([f for f, _ in sampled])
    slide_of = np.concatenate([[s] * len(k) for s, k in zip(slides, keep, strict=False)])
    colours = umap_view.as_rgb(umap_view.umap_embedding(stacked, 3, seed))
    flat = umap_view.umap_embedding(stacked, 2, seed)
    tile_scores = None
    if pu_scores is not None:
        scores = read_tile_scores([pu_scores], PU_SCORE)
        tile_scores = np.concatenate(
            [scores[s][1][k] if s in scores else np.full(len(k), np.nan) for s, k in zip(slides, keep, strict=False)]
        )
    with atomic_output(scatter_path) as tmp:
        umap_view.scatter_figure(
            tmp,
            flat,
            np.array([labels.get(s) or "unlabelled" for s in slide_of]),
            tile_scores,
            f"UMAP of {len(stacked)} tiles from {len(slides)} slides",
        )
    rgb_dir.mkdir(parents=True, exist_ok=True)
    for slide, (_, coords) in zip(slides, sampled, strict=False):
        thumbnail = cv2.cvtColor(cv2.imread(str(slides_info[slide]["thumbnail"])), cv2.COLOR_BGR2RGB)
        tiles = TileFile.read(slides_info[slide]["tiles"])
        view = umap_view.rgb_view(
            thumbnail, coords, colours[slide_of == slide], tiles.size0, tiles.level0_size[0] / thumbnail.shape[1]
        )
        with atomic_output(paths.in_folder(rgb_dir, paths.UMAP_RGB_FILE, slide=slide)) as tmp:
            write_rgb(tmp, view)
