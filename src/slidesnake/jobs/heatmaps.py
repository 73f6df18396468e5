"""Rule heatmaps: per slide of a cohort, one score source painted over the thumbnail,
its high-score regions as QuPath GeoJSON, and a gallery of its top tiles."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import SlideError
from slidesnake.core.labels import TUMOR
from slidesnake.evaluation.splits import read_splits
from slidesnake.figures.heatmap import high_score_regions, render_heatmap
from slidesnake.figures.params import HeatmapParams
from slidesnake.figures.qc import GREEN, RED, YELLOW
from slidesnake.figures.slide_figures import save_gallery, save_heatmap_figure
from slidesnake.io.geojson import feature_collection, mask_polygons, write_geojson
from slidesnake.io.manifest import read_manifest
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_scores import MIL_SCORE, PU_MASK, PU_SCORE, read_tile_scores, score_kind, scored_box_size
from slidesnake.pu.masks import tumor_mask_image
from slidesnake.workflow import paths

log = logging.getLogger(__name__)


def read_label_png(path: str | None) -> np.ndarray | None:
    return None if path is None else cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def write_tumor_mask(slide: str, tiles: TileFile, coords: np.ndarray, called: np.ndarray, out_dir: Path) -> None:
    """The slide's PU tumor mask as a label PNG of its tile grid and its tumor outline as QuPath GeoJSON."""
    image, downsample = tumor_mask_image(coords, tiles.stride0, tiles.level0_size, called)
    files = {k: paths.in_folder(out_dir, name, slide=slide) for k, name in paths.PU_MASK_FILES.items()}
    with atomic_output(files["mask"]) as tmp:
        cv2.imwrite(str(tmp), image)
    polygons = mask_polygons(image == TUMOR, (downsample, downsample))
    with atomic_output(files["mask_regions"]) as tmp:
        write_geojson(tmp, feature_collection(polygons, "Tumor", RED, {"tiles": int(called.sum())}))


def run(
    source: str,
    score_files: list[Path],
    slide_manifest: Path,
    splits_csv: Path | None,
    params: HeatmapParams,
    out_dir: Path,
    qc_table: Path | None = None,
) -> None:
    """Paint every slide of the manifest (the OK ones of the cohort's QC table, `qc_table`: an excluded slide has
    no heatmap). `source` is a MIL model (its tile scores, ranked within the slide),
    `pu` (nnPU tumor probabilities), or new_<model> (the fold ensemble on new slides). Slide labels for the
    titles come from the splits table (none for new slides). For `pu`, each slide's tumor mask is also written
    as a label image of the tile grid and as QuPath GeoJSON."""
    pu = source == paths.PU_SOURCE
    scores = read_tile_scores(score_files, PU_SCORE if pu else MIL_SCORE)
    masks = read_tile_scores(score_files, PU_MASK) if pu else {}
    normalisation = "none" if pu else "rank"
    score_label = (
        "tile tumor probability (nnPU)" if pu else f"{score_kind(score_files[0], MIL_SCORE)} (rank within slide)"
    )
    box_size = None if pu else scored_box_size(score_files[0])
    labels = {}
    if splits_csv is not None:
        splits = read_splits(splits_csv)
        labels = dict(zip(splits["slide_id"], splits["label"], strict=False))
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(slide_manifest)
    if qc_table is not None:
        passed = read_manifest(qc_table)
        manifest = {s: row for s, row in manifest.items() if s in passed}
    for slide, row in manifest.items():
        if slide not in scores:
            raise SlideError(slide, f"has no {source} tile scores (rerun the rule that scores it)")
        coords, values = scores[slide]
        tiles = None if box_size else TileFile.read(row["tiles"])
        size0 = box_size or tiles.size0
        truth, annotation = read_label_png(row["truth"]), read_label_png(row["annotation"])
        image, score, covered, downsample = render_heatmap(
            row["slide"], coords, values, size0, read_label_png(row["mask"]), truth, annotation, params, normalisation
        )
        legend = (
            [("tissue", GREEN)]
            + ([("truth tumor", RED)] if truth is not None else [])
            + ([("annotated tumor", YELLOW)] if annotation is not None else [])
        )
        files = {k: paths.in_folder(out_dir, name, slide=slide) for k, name in paths.HEATMAP_FILES.items()}
        with atomic_output(files["heatmap"]) as tmp:
            save_heatmap_figure(
                tmp, image, f"{slide} ({labels.get(slide) or 'unlabelled'}): {source}", params.cmap, score_label, legend
            )
        with atomic_output(files["regions"]) as tmp:
            write_geojson(tmp, high_score_regions(score, covered, downsample, params.region_threshold, slide))
        with atomic_output(files["gallery"]) as tmp:
            save_gallery(
                tmp, row["slide"], coords, values, size0, params.top_k, f"{slide}: top {params.top_k} tiles by {source}"
            )
        if pu:
            write_tumor_mask(slide, tiles, coords, masks[slide][1] > 0, out_dir)
    log.info("%s: heatmaps of %d slides in %s", source, len(manifest), out_dir)
