"""Corrections a pathologist exported from QuPath (GeoJSON, one file per slide) merged into the slide's annotation.

Merge rules (README, "Corrections back into training"), per pixel of the corrected mask, later rules overriding
earlier ones:
1. the user's annotation mask: its tumor (label 2) is tumor; nothing else is said (label 1 is unlabelled tissue);
2. Tumor polygons are tumor, Benign polygons confirmed negative (so a Benign polygon over annotated tumor takes it
   back);
3. where a Tumor and a Benign polygon overlap, the overlap is ignored, and both polygons are named in the log and
   the report (`conflicts`);
4. Artefact and Ignore polygons are ignored, over everything.
Features of the review project's reference classes (Tissue, Tumor (PU), Tumor (MIL)) are skipped. A feature of
another class, one that names another slide, a polygon outside the slide, or a self-intersecting polygon is a named
error (slidesnake.core.errors) and nothing is written; the user's files are only read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.errors import (
    CorrectionError,
    OutsideSlideError,
    SelfIntersectionError,
    UnknownClassError,
    WrongSlideError,
)
from slidesnake.core.labels import (
    BENIGN_CLASS,
    CONFIRMED_NEGATIVE,
    CORRECTED_LABELS,
    CORRECTION_CLASSES,
    IGNORED,
    REFERENCE_CLASSES,
    TUMOR,
    TUMOR_CLASS,
)

EDGE_TOLERANCE_PX = 1.0  # level-0 px a vertex may lie beyond the slide's frame (QuPath rounds to the pixel edge)


@dataclass(frozen=True)
class Correction:
    index: int  # the feature's position in the file
    name: str  # its QuPath name, or "feature <index>"
    class_name: str  # one of CORRECTION_CLASSES
    polygons: list  # GeoJSON polygons (outer ring then holes), level-0 px

    @property
    def label(self) -> int:
        return CORRECTED_LABELS[self.class_name]


def features_of(path: Path) -> list[dict]:
    """The features of a QuPath GeoJSON export: a FeatureCollection, a list of features, or one feature."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CorrectionError(path, f"is not readable GeoJSON ({error})") from error
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        return list(data.get("features") or [])
    if isinstance(data, dict) and data.get("type") == "Feature":
        return [data]
    if isinstance(data, list):
        return data
    raise CorrectionError(path, "is neither a GeoJSON FeatureCollection nor a list of features")


def class_name(properties: dict) -> str | None:
    """The QuPath class of a feature's properties (`classification` {name} or a plain string), or None."""
    classification = properties.get("classification")
    if isinstance(classification, dict):
        return classification.get("name")
    return classification if isinstance(classification, str) else None


def ring_crossings(ring) -> list[tuple[int, int]]:
    """Pairs of non-adjacent edges of a closed ring that cross each other (properly)."""
    points = np.asarray(ring, np.float64)
    a, b = points[:-1], points[1:]
    d = b - a

    def cross(u, v):
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    # edge i against the ends of edge j, and edge j against the ends of edge i
    i_j = cross(d[:, None], a[None] - a[:, None]) * cross(d[:, None], b[None] - a[:, None])
    j_i = cross(d[None], a[:, None] - a[None]) * cross(d[None], b[:, None] - a[None])
    first, second = np.nonzero(np.triu((i_j < 0) & (j_i < 0), 2))
    last = len(a) - 1
    return [(int(p), int(q)) for p, q in zip(first, second, strict=True) if not (p == 0 and q == last)]


def polygons_of(path: Path, geometry: dict, name: str) -> list:
    kind = (geometry or {}).get("type")
    if kind == "Polygon":
        polygons = [geometry["coordinates"]]
    elif kind == "MultiPolygon":
        polygons = list(geometry["coordinates"])
    else:
        raise CorrectionError(path, f"{name}: a {kind} geometry labels no region (draw areas: polygons, brush)")
    for polygon in polygons:
        for ring in polygon:
            if len(ring) < 4:
                raise CorrectionError(path, f"{name}: a ring of {len(ring)} points is no polygon")
            crossing = ring_crossings(ring)
            if crossing:
                p, q = crossing[0]
                raise SelfIntersectionError(
                    path,
                    f"{name}: the polygon crosses itself (edges {p} and {q} at ({ring[p][0]:.0f}, {ring[p][1]:.0f}) "
                    f"and ({ring[q][0]:.0f}, {ring[q][1]:.0f}); {len(crossing)} crossings): redraw it in QuPath, or "
                    "split it (Objects > Annotations > Split annotations)",
                )
    return polygons


def read_corrections(path: Path, slide: str, level0_size: tuple[int, int]) -> tuple[list[Correction], int]:
    """The corrections of one slide's GeoJSON (checked against the slide), and how many reference features were
    skipped."""
    width, height = level0_size
    known = {c.lower(): c for c in CORRECTION_CLASSES}
    reference = {c.lower() for c in REFERENCE_CLASSES}
    corrections, skipped = [], 0
    for index, feature in enumerate(features_of(path)):
        properties = feature.get("properties") or {}
        name = f"feature {index}" + (f" ('{properties['name']}')" if properties.get("name") else "")
        other = properties.get("slide_id")
        if other is not None and other != slide:
            raise WrongSlideError(path, f"{name} belongs to slide '{other}', not '{slide}': a GeoJSON of another slide")
        found = class_name(properties)
        if found is not None and found.lower() in reference:
            skipped += 1
            continue
        if found is None or found.lower() not in known:
            raise UnknownClassError(
                path, f"{name}: class {found!r} is not one of {list(CORRECTION_CLASSES)} (set its class in QuPath)"
            )
        polygons = polygons_of(path, feature.get("geometry"), name)
        corrections.append(Correction(index, name, known[found.lower()], polygons))
    outside = [c for c in corrections if not inside_frame(c.polygons, width, height)]
    if corrections and len(outside) == len(corrections):
        extent = np.max([np.max(np.asarray(r), 0) for c in corrections for p in c.polygons for r in p], 0)
        raise WrongSlideError(
            path,
            f"none of its {len(corrections)} polygons fits slide '{slide}' ({width} x {height} px; they reach "
            f"{extent[0]:.0f} x {extent[1]:.0f}): a GeoJSON of another slide?",
        )
    if outside:
        names = ", ".join(c.name for c in outside[:5])
        raise OutsideSlideError(
            path, f"{len(outside)} polygons reach outside slide '{slide}' ({width} x {height} px): {names}"
        )
    return corrections, skipped


def inside_frame(polygons: list, width: float, height: float) -> bool:
    points = np.concatenate([np.asarray(r, np.float64) for p in polygons for r in p])
    low, high = -EDGE_TOLERANCE_PX, np.array([width, height]) + EDGE_TOLERANCE_PX
    return bool((points >= low).all() and (points <= high).all())


def raster(polygons: list, shape: tuple[int, int], downsample: float) -> np.ndarray:
    """Boolean mask (pixels of `downsample` level-0 px) of polygons with holes."""
    mask = np.zeros(shape, np.uint8)
    for polygon in polygons:
        rings = [np.round(np.asarray(r, np.float64) / downsample - 0.5).astype(np.int32) for r in polygon]
        cv2.fillPoly(mask, rings[:1], 1)
        if len(rings) > 1:
            cv2.fillPoly(mask, rings[1:], 0)
    return mask.astype(bool)


def merge(
    annotation: np.ndarray | None, corrections: list[Correction], level0_size: tuple[int, int], downsample: float
) -> tuple[np.ndarray, dict]:
    """The corrected label mask (BACKGROUND, TUMOR, CONFIRMED_NEGATIVE, IGNORED; `downsample` level-0 px per
    pixel) of the user's annotation labels (any resolution, or None) and the corrections, by the module's rules;
    and a report: polygons per class, conflicting Tumor / Benign pairs, annotated tumor pixels taken back."""
    shape = (int(np.ceil(level0_size[1] / downsample)), int(np.ceil(level0_size[0] / downsample)))
    labels = np.zeros(shape, np.uint8)
    if annotation is not None:
        resized = cv2.resize(annotation, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
        labels[resized == TUMOR] = TUMOR
    masks = [raster(c.polygons, shape, downsample) for c in corrections]
    by_label = {
        value: np.logical_or.reduce([m for m, c in zip(masks, corrections, strict=True) if c.label == value])
        if any(c.label == value for c in corrections)
        else np.zeros(shape, bool)
        for value in (TUMOR, CONFIRMED_NEGATIVE, IGNORED)
    }
    taken_back = int(((labels == TUMOR) & by_label[CONFIRMED_NEGATIVE]).sum())
    conflicts = [
        [t.name, b.name]
        for t, tm in zip(corrections, masks, strict=True)
        if t.class_name == TUMOR_CLASS
        for b, bm in zip(corrections, masks, strict=True)
        if b.class_name == BENIGN_CLASS and (tm & bm).any()
    ]
    labels[by_label[TUMOR]] = TUMOR
    labels[by_label[CONFIRMED_NEGATIVE]] = CONFIRMED_NEGATIVE
    labels[by_label[TUMOR] & by_label[CONFIRMED_NEGATIVE]] = IGNORED
    labels[by_label[IGNORED]] = IGNORED
    counts = {name: sum(c.class_name == name for c in corrections) for name in CORRECTION_CLASSES}
    return labels, {"polygons": counts, "conflicts": conflicts, "annotated_tumor_px_taken_back": taken_back}
