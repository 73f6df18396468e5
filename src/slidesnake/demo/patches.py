"""A labelled demo patch set in the image-folder layout of NCT-CRC-HE-100K (one folder per tissue class):
H&E patches rendered with the demo slides' Beer-Lambert stain model, one recipe per class."""

from __future__ import annotations

import cv2
import numpy as np

from slidesnake.demo.render import Stain, periodic_noise

PATCH_CLASSES = ("adipose", "background", "debris", "lymphocytes", "mucus", "stroma", "tumor")


def nuclei_layer(
    rng: np.random.Generator,
    size: int,
    count: int,
    radius: tuple[float, float],
    aspect: tuple[float, float],
    darkness: tuple[float, float],
    irregular: float,
) -> np.ndarray:
    """Haematoxylin density of `count` nuclei (ellipses with ragged outlines) in a size x size patch."""
    layer = np.zeros((size, size), np.float32)
    k = 10
    theta = np.linspace(0, 2 * np.pi, k, endpoint=False)
    for _ in range(count):
        r, a = rng.uniform(*radius), rng.uniform(*aspect)
        x, y, angle = rng.uniform(-8, size + 8), rng.uniform(-8, size + 8), rng.uniform(0, np.pi)
        wobble = 1 + irregular * rng.standard_normal(k)
        u, v = r * np.sqrt(a) * wobble * np.cos(theta), r / np.sqrt(a) * wobble * np.sin(theta)
        c, s = np.cos(angle), np.sin(angle)
        polygon = np.stack([x + c * u - s * v, y + s * u + c * v], -1) * 4
        cv2.fillPoly(layer, [polygon.round().astype(np.int32)], float(rng.uniform(*darkness)), shift=2)
    return cv2.GaussianBlur(layer, (0, 0), 0.7)


def fibres(rng: np.random.Generator, size: int) -> np.ndarray:
    angle = rng.uniform(0, np.pi)
    return periodic_noise(rng, size, 14, 1.6, angle) ** 1.5


def adipose_membranes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Thin eosin membranes between large empty fat cells (a Voronoi diagram of a few seeds)."""
    seeds = rng.uniform(-size * 0.2, size * 1.2, (int(rng.integers(6, 14)), 2)).astype(np.float32)
    subdivision = cv2.Subdiv2D((-size, -size, 3 * size, 3 * size))
    for point in seeds:
        subdivision.insert((float(point[0]), float(point[1])))
    facets, _ = subdivision.getVoronoiFacetList([])
    layer = np.zeros((size, size), np.float32)
    for facet in facets:
        cv2.polylines(layer, [np.round(facet).astype(np.int32)], True, 1.0, int(rng.integers(1, 3)), cv2.LINE_AA)
    return layer


def densities(name: str, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Haematoxylin and eosin optical densities of one patch of class `name`."""
    zeros = np.zeros((size, size), np.float32)
    if name == "background":
        return zeros, zeros + np.float32(rng.uniform(0, 0.01))
    if name == "stroma":
        nuclei = nuclei_layer(rng, size, int(rng.integers(10, 30)), (2.6, 4.0), (1.4, 3.0), (0.8, 1.1), 0.06)
        return 0.07 + 0.95 * nuclei, 0.12 + 0.55 * fibres(rng, size)
    if name == "tumor":
        nuclei = nuclei_layer(rng, size, int(rng.integers(90, 150)), (4.8, 8.5), (1.0, 1.6), (1.15, 1.6), 0.22)
        return 0.20 + 0.95 * nuclei, (0.12 + 0.55 * fibres(rng, size)) * 0.55 + 0.1
    if name == "lymphocytes":
        nuclei = nuclei_layer(rng, size, int(rng.integers(220, 320)), (2.3, 3.0), (1.0, 1.15), (1.4, 1.6), 0.04)
        return 0.05 + 0.95 * nuclei, 0.06 + 0.1 * fibres(rng, size)
    if name == "adipose":
        membranes = adipose_membranes(rng, size)
        nuclei = nuclei_layer(rng, size, int(rng.integers(0, 4)), (2.0, 3.0), (2.5, 4.0), (0.8, 1.0), 0.05)
        return 0.6 * nuclei * membranes.clip(0, 1) + 0.02 * membranes, 0.45 * membranes
    if name == "debris":
        blotches = periodic_noise(rng, size, 6, 6)
        dust = nuclei_layer(rng, size, int(rng.integers(80, 160)), (0.8, 1.8), (1.0, 1.5), (0.9, 1.5), 0.35)
        return 0.10 + 0.08 * blotches + 0.9 * dust, 0.25 + 0.35 * blotches
    if name == "mucus":
        wisps = periodic_noise(rng, size, 10, 3, rng.uniform(0, np.pi))
        nuclei = nuclei_layer(rng, size, int(rng.integers(0, 6)), (2.5, 3.5), (1.0, 1.5), (0.6, 0.9), 0.1)
        return 0.10 * wisps + 0.04 + 0.8 * nuclei, 0.03 + 0.04 * wisps
    raise ValueError(f"no demo recipe for tissue class '{name}'")


def render_patch(name: str, rng: np.random.Generator, size: int = 224) -> np.ndarray:
    """RGB uint8 patch of class `name`: its stain densities mixed by a random slide's stain vectors."""
    stain = Stain.random(rng)
    hema, eosin = densities(name, rng, size)
    od = hema[..., None] * stain.hematoxylin + eosin[..., None] * stain.eosin
    rgb = stain.glass * np.exp(-od) + rng.normal(0, 2.2, (size, size, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)
