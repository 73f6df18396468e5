"""Rule tile_class_figures: prediction maps and per-class QuPath regions of every slide, the most confident
tiles of each class, and the classifier's confusion matrix and training curves, in one folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.figures.tile_classes import (
    class_regions,
    render_class_map,
    save_class_map,
    save_confusion_and_curves,
    save_gallery,
)
from slidesnake.io.geojson import write_geojson
from slidesnake.io.manifest import read_manifest
from slidesnake.io.slide import Slide
from slidesnake.io.tile_classes import passed, read_tile_classes
from slidesnake.io.tile_file import TileFile
from slidesnake.workflow import paths

log = logging.getLogger(__name__)
GALLERY_TILES = 6
MAP_ALPHA = 0.55


def run(tile_classes: dict[str, str], slide_manifests: list[str], metrics_json: Path, out_dir: Path) -> None:
    """Per slide `{slide}.jpg` (map) and `{slide}.geojson`; `gallery.jpg`; `classifier.png`."""
    manifest = {s: row for path in slide_manifests for s, row in read_manifest(path).items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    best: dict[str, list] = {}
    classes = None
    for slide, path in passed(tile_classes).items():
        coords, probabilities, classes = read_tile_classes(Path(path))
        size0 = TileFile.read(manifest[slide]["tiles"]).size0
        image, labels, downsample = render_class_map(
            manifest[slide]["slide"], coords, probabilities, size0, classes, MAP_ALPHA
        )
        shares = np.bincount(probabilities.argmax(1), minlength=len(classes)) / max(1, len(probabilities))
        files = {k: paths.in_folder(out_dir, name, slide=slide) for k, name in paths.TILE_CLASS_MAP_FILES.items()}
        with atomic_output(files["map"]) as tmp:
            save_class_map(tmp, image, classes, shares, f"{slide}: predicted tissue classes")
        with atomic_output(files["regions"]) as tmp:
            write_geojson(tmp, class_regions(labels, classes, downsample, slide))
        for index, name in enumerate(classes):
            for row in np.argsort(probabilities[:, index])[::-1][:GALLERY_TILES]:
                best.setdefault(name, []).append((float(probabilities[row, index]), slide, coords[row], size0))
    gallery = {}
    for name in classes or []:
        chosen = sorted(best.get(name, []), key=lambda t: -t[0])[:GALLERY_TILES]
        gallery[name] = []
        for probability, slide, (x, y), size0 in chosen:
            with Slide(manifest[slide]["slide"], require_mpp=False) as handle:
                gallery[name].append((handle.read_region(int(x), int(y), size0, 160), probability, slide))
    with atomic_output(out_dir / paths.TILE_CLASS_GALLERY) as tmp:
        save_gallery(tmp, gallery)
    with atomic_output(out_dir / paths.TILE_CLASS_REPORT) as tmp:
        save_confusion_and_curves(tmp, json.loads(Path(metrics_json).read_text()))
    log.info("tile-class maps of %d slides in %s", len(tile_classes), out_dir)
