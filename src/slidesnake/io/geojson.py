"""Mask outlines as GeoJSON polygons in level-0 pixels, the way QuPath imports annotations."""

from __future__ import annotations

import json

import cv2
import numpy as np


def mask_polygons(
    mask: np.ndarray, downsample: tuple[float, float], min_vertices: int = 3, simplify_px: float = 1.0
) -> list[list[list[list[float]]]]:
    """Polygons (outer ring then hole rings, closed, level-0 x/y) of a boolean mask."""
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]
    sx, sy = downsample

    def ring(contour):
        contour = cv2.approxPolyDP(contour, simplify_px, True)[:, 0, :].astype(np.float64)
        if len(contour) < min_vertices:
            return None
        points = [[round((x + 0.5) * sx, 1), round((y + 0.5) * sy, 1)] for x, y in contour]
        return points + [points[0]]

    polygons = []
    for index, (_, _, first_child, parent) in enumerate(hierarchy):
        if parent != -1:
            continue
        outer = ring(contours[index])
        if outer is None:
            continue
        rings = [outer]
        child = first_child
        while child != -1:
            hole = ring(contours[child])
            if hole is not None:
                rings.append(hole)
            child = hierarchy[child][0]
        polygons.append(rings)
    return polygons


def feature_collection(polygons, name: str, colour: tuple[int, int, int], properties: dict | None = None) -> dict:
    """One QuPath annotation feature per polygon."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": rings},
            "properties": {
                "objectType": "annotation",
                "classification": {"name": name, "color": list(colour)},
                **(properties or {}),
            },
        }
        for rings in polygons
    ]
    return {"type": "FeatureCollection", "features": features}


def write_geojson(path, collection: dict) -> None:
    with open(path, "w") as handle:
        json.dump(collection, handle)
