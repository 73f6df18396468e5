"""Review layers of one slide as QuPath GeoJSON (level-0 pixels): the tissue mask, the user's annotated tumor and
regions of tiles called tumor (PU's tumor mask, the MIL model's thresholded evidence), the tiles proposed to label
next, each feature with its score.

Every feature's properties: objectType "annotation", classification {name, color} (core.labels.REVIEW_CLASSES),
`layer`, `slide_id`, `score` and `tiles`, with score and tiles also as QuPath `measurements`. The score of a
region of called tiles is the mean score of its tiles; the tissue and the user's annotations score 1 (the
mask's and the user's own call)."""

from __future__ import annotations

import cv2
import numpy as np

from slidesnake.core.labels import PROPOSED_CLASS, REVIEW_CLASSES, TUMOR
from slidesnake.io.geojson import mask_polygons
from slidesnake.pu.masks import MASK_UPSAMPLE, tumor_mask_image

TISSUE_LAYER, ANNOTATION_LAYER, PU_LAYER, MIL_LAYER = "tissue", "annotation", "pu_tumor", "mil_tumor"
PROPOSED_LAYER = "proposed"  # the tiles to label next (slidesnake.review.active)


def feature(rings, class_name: str, layer: str, slide: str, score: float, tiles: int | None, **extra) -> dict:
    """One QuPath annotation of a polygon (outer ring then holes)."""
    measured = {"score": round(float(score), 4)} | ({} if tiles is None else {"tiles": int(tiles)})
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": rings},
        "properties": {
            "objectType": "annotation",
            "name": f"{layer} {measured['score']:.2f}",
            "classification": {"name": class_name, "color": list(REVIEW_CLASSES[class_name])},
            "layer": layer,
            "slide_id": slide,
            **measured,
            "measurements": measured,
            **extra,
        },
    }


def collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def mask_layer(mask: np.ndarray, downsample: tuple[float, float], class_name: str, layer: str, slide: str) -> dict:
    """The outlines of a boolean mask (pixels of `downsample` level-0 px), each scoring 1."""
    return collection([feature(r, class_name, layer, slide, 1.0, None) for r in mask_polygons(mask, downsample)])


def annotation_layer(labels: np.ndarray, downsample: tuple[float, float], class_name: str, slide: str) -> dict:
    """The user's annotated tumor (label TUMOR of a partial annotation mask)."""
    return mask_layer(labels == TUMOR, downsample, class_name, ANNOTATION_LAYER, slide)


def called_tile_layer(
    coords: np.ndarray,
    stride0: float,
    level0_size: tuple[int, int],
    called: np.ndarray,
    scores: np.ndarray,
    class_name: str,
    layer: str,
    slide: str,
    **extra,
) -> dict:
    """One feature per 8-connected region of called tiles of the tile grid, scored by its tiles' mean score."""
    called = np.asarray(called, bool)
    image, step = tumor_mask_image(coords, stride0, level0_size, called)
    count, components = cv2.connectedComponents((image == TUMOR).astype(np.uint8), connectivity=8)
    cells = np.round(np.asarray(coords) / step).astype(int) + MASK_UPSAMPLE // 2
    rows = np.clip(cells[:, 1], 0, components.shape[0] - 1)
    columns = np.clip(cells[:, 0], 0, components.shape[1] - 1)
    tile_component = np.where(called, components[rows, columns], 0)
    features = []
    for component in range(1, count):
        inside = tile_component == component
        if not inside.any():
            continue
        score = float(np.asarray(scores)[inside].mean())
        for rings in mask_polygons(components == component, (step, step)):
            features.append(feature(rings, class_name, layer, slide, score, int(inside.sum()), **extra))
    return collection(features)


def proposal_layer(
    picks: list[tuple[int, float, int]], coords: np.ndarray, size0: int, level0_size: tuple[int, int], slide: str
) -> dict:
    """The tiles proposed to label next (tile index, acquisition score, rank over the cohort), as tile squares."""
    width, height = level0_size
    features = []
    for index, score, rank in picks:
        x, y = (float(v) for v in coords[index])
        x1, y1 = min(x + size0, width), min(y + size0, height)
        ring = [[x, y], [x1, y], [x1, y1], [x, y1], [x, y]]
        features.append(feature([ring], PROPOSED_CLASS, PROPOSED_LAYER, slide, score, 1, rank=rank, tile=index))
    return collection(features)
