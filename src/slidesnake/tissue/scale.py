"""A slide's scale from its own pixels: the size of its haematoxylin-stained nuclei against a reference size.

Tissue tiles are drawn from the tissue mask and read at about WORK_MPP (by the declared mpp) from the nearest
pyramid level; haematoxylin is separated by colour deconvolution (skimage's rgb2hed), thresholded (Otsu over the
whole sample), and touching nuclei are split by a watershed on the distance transform. The median equivalent
diameter of the nuclei, in level-0 pixels, against a reference nuclear diameter in microns gives the implied
microns per pixel. Memory: the sample (TILES tiles of TILE_PX px), not the slide."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from skimage.color import rgb2hed
from skimage.filters import threshold_otsu
from skimage.segmentation import watershed

WORK_MPP = 0.25  # tiles are read at this declared um/px or level 0 when coarser: a 5 um nucleus spans 20 px
TILE_PX = 512
TILES = 32
MIN_TILE_TISSUE = 0.5  # a sampled tile centre needs this share of tissue in its mask neighbourhood
MIN_NUCLEI = 50  # fewer nuclei: no estimate
# Objects kept as nuclei, in pixels of the read tiles: limits in microns would use the declared mpp under test and
# pull the estimate towards it. Below 4 px a blob is noise; above 64 px a clump.
MIN_DIAMETER_PX, MAX_DIAMETER_PX = 4.0, 64.0
MIN_SOLIDITY = 0.8  # split fragments and stain smears are less convex
CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))  # the opening's element, 4-connected
PIXEL_CORNERS = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])


@dataclass(frozen=True)
class ScaleEstimate:
    diameter_px: float | None  # median nuclear equivalent diameter in level-0 pixels
    spread: float | None  # robust spread of the diameters: (q75 - q25) / median
    mpp: float | None  # implied level-0 um/px: reference diameter / diameter_px
    nuclei: int  # nuclei measured
    reason: str | None  # why there is no estimate


def haematoxylin(rgb: np.ndarray) -> np.ndarray:
    """Haematoxylin optical density of an RGB uint8 image (colour deconvolution, Ruifrok and Johnston)."""
    return rgb2hed(rgb)[..., 0].astype(np.float32)


def nucleus_diameters(hema: np.ndarray, threshold: float) -> np.ndarray:
    """Equivalent diameters (px of this image) of the nuclei in one haematoxylin image: pixels above
    `threshold`, touching nuclei split by a watershed on the distance transform from its local maxima (each
    plateau one marker), objects outside [MIN_DIAMETER_PX, MAX_DIAMETER_PX] or less convex than MIN_SOLIDITY
    dropped."""
    opened = cv2.morphologyEx((hema > threshold).astype(np.uint8), cv2.MORPH_OPEN, CROSS)
    binary = fill_holes(opened.astype(bool))
    if not binary.any():
        return np.empty(0)
    distance = cv2.distanceTransform(binary.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    min_radius_px = MIN_DIAMETER_PX / 2
    spacing = max(2, int(round(min_radius_px * 1.5)))
    inner = np.zeros(binary.shape, bool)  # no seeds within `spacing` of the edge, as peak_local_max's default
    inner[spacing:-spacing, spacing:-spacing] = True
    seeds = inner & (distance >= min_radius_px)
    peaks = seeds & (distance == ndimage.maximum_filter(distance, size=2 * spacing + 1))
    # an object whose maximum lies within `spacing` of a larger neighbour's still gets one seed: its maximum
    objects, n_objects = ndimage.label(binary)
    marked = np.zeros(n_objects + 1, bool)
    marked[objects[peaks]] = True
    seed_distance = np.where(seeds, distance, 0)
    for index, box in enumerate(ndimage.find_objects(objects)):
        if not marked[index + 1]:
            values = np.where(objects[box] == index + 1, seed_distance[box], 0)
            y, x = np.unravel_index(np.argmax(values), values.shape)
            if values[y, x] > 0:
                peaks[box[0].start + y, box[1].start + x] = True
    # seeds closer than `spacing` (plateaus, ridges) are one marker, as in skimage's peak_local_max
    merged, _ = ndimage.label(ndimage.binary_dilation(peaks, np.ones((spacing, spacing), bool)))
    markers = np.where(peaks, merged, 0)
    labels = watershed(-distance, markers, mask=binary)
    area = np.bincount(labels.ravel())[1:].astype(float)
    diameters = np.sqrt(4 * area / np.pi)
    keep = (diameters >= MIN_DIAMETER_PX) & (diameters <= MAX_DIAMETER_PX)
    boxes = ndimage.find_objects(labels)
    for index in np.flatnonzero(keep):
        keep[index] = area[index] >= MIN_SOLIDITY * convex_area(labels[boxes[index]] == index + 1)
    return diameters[keep]


def convex_area(pixels: np.ndarray) -> float:
    """The area of the convex hull of an object's pixel squares (`pixels`: its boolean image), as the
    solidity of skimage's regionprops counts it, from the hull of the pixel corners (OpenCV)."""
    ys, xs = np.nonzero(pixels)
    corners = np.stack([xs, ys], 1)[:, None, :] + PIXEL_CORNERS
    return float(cv2.contourArea(cv2.convexHull(corners.reshape(-1, 2).astype(np.float32))))


def fill_holes(binary: np.ndarray) -> np.ndarray:
    """`binary` with every background region that does not touch the image edge filled."""
    background, _ = ndimage.label(~binary)
    edge = np.unique(np.concatenate([background[[0, -1]].ravel(), background[:, [0, -1]].ravel()]))
    return binary | ~np.isin(background, edge)


def summarise(diameters_px: np.ndarray, reference_um: float) -> ScaleEstimate:
    """Median diameter (level-0 px), its spread (IQR / median) and the implied um/px; no estimate below
    MIN_NUCLEI nuclei."""
    n = len(diameters_px)
    if n < MIN_NUCLEI:
        return ScaleEstimate(None, None, None, n, f"{n} nuclei found, fewer than {MIN_NUCLEI}")
    q25, median, q75 = np.percentile(diameters_px, [25, 50, 75])
    return ScaleEstimate(float(median), float((q75 - q25) / median), float(reference_um / median), n, None)


def estimate_image(rgb: np.ndarray, reference_um: float, downsample: float = 1.0) -> ScaleEstimate:
    """The estimate from one RGB image whose pixels are `downsample` level-0 pixels."""
    return estimate_tiles([haematoxylin(rgb)], reference_um, downsample)


def estimate_tiles(hema_tiles: list[np.ndarray], reference_um: float, downsample: float) -> ScaleEstimate:
    """The estimate from haematoxylin tiles read at `downsample` level-0 px per pixel (one Otsu threshold over
    all tiles, so a tile of stroma alone does not find 'nuclei' in its cytoplasm)."""
    values = np.concatenate([t.ravel() for t in hema_tiles])
    if values.size == 0 or np.ptp(values) <= 0:
        return ScaleEstimate(None, None, None, 0, "no haematoxylin contrast in the sampled tissue")
    # Otsu on values clipped at the 99.5th percentile: a few pen or dirt pixels do not pull the threshold up
    threshold = float(threshold_otsu(np.minimum(values, np.percentile(values, 99.5))))
    diameters = np.concatenate([nucleus_diameters(t, threshold) for t in hema_tiles])
    return summarise(diameters * downsample, reference_um)


def tile_origins(mask: np.ndarray, mask_downsample: tuple[float, float], tile0: float, count: int, seed: int = 0):
    """Level-0 top-left corners of up to `count` tiles of side `tile0` (level-0 px) centred on tissue, spread
    by a seeded random draw over the mask's tissue pixels."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return []
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(xs))
    half_mask = max(1, int(round(tile0 / 2 / mask_downsample[0])))
    integral = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    h, w = mask.shape
    origins = []
    for i in order[: count * 20]:
        y, x = ys[i], xs[i]
        y0, y1, x0, x1 = max(0, y - half_mask), min(h, y + half_mask), max(0, x - half_mask), min(w, x + half_mask)
        share = (integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]) / max(
            1, (y1 - y0) * (x1 - x0)
        )
        if share >= MIN_TILE_TISSUE:
            origins.append((x * mask_downsample[0] - tile0 / 2, y * mask_downsample[1] - tile0 / 2))
        if len(origins) == count:
            break
    return origins


def estimate_slide(slide, mask: np.ndarray, mask_downsample: tuple[float, float], reference_um: float, seed: int = 0):
    """The estimate of an open slidesnake.io.slide.Slide from TILES tissue tiles of TILE_PX px at WORK_MPP
    (declared), each read from the nearest pyramid level; `mask` is the tissue mask at `mask_downsample`."""
    downsample = max(1.0, WORK_MPP / slide.mpp)
    width0, height0 = slide.dimensions
    tile0 = min(TILE_PX * downsample, width0, height0)
    out_px = max(16, int(round(tile0 / downsample)))
    tiles = []
    for x, y in tile_origins(mask, mask_downsample, tile0, TILES, seed):
        x = int(np.clip(x, 0, width0 - tile0))
        y = int(np.clip(y, 0, height0 - tile0))
        tiles.append(haematoxylin(slide.read_region(x, y, int(tile0), out_px)))
    if not tiles:
        return ScaleEstimate(None, None, None, 0, "no tissue to sample")
    return estimate_tiles(tiles, reference_um, tile0 / out_px)
