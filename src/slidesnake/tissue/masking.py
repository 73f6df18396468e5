"""Tissue masks by Otsu thresholding a low-resolution image of the slide."""

from __future__ import annotations

import cv2
import numpy as np

from slidesnake.tissue.params import MaskParams

CHANNELS = ("saturation", "od", "grey")


def channel_image(rgb: np.ndarray, channel: str) -> np.ndarray:
    """uint8 image that is high on tissue."""
    if channel == "saturation":
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    if channel == "od":
        od = -np.log((rgb.astype(np.float32) + 1) / 256).sum(axis=2)
        return np.clip(od * (255 / 3.0), 0, 255).astype(np.uint8)
    if channel == "grey":
        return 255 - cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    raise ValueError(f"unknown mask channel '{channel}'; choose one of {CHANNELS}")


def pen_mask(rgb: np.ndarray) -> np.ndarray:
    """Green, blue and black marker ink by hue, saturation and value (H&E is pink to purple)."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    green = (h >= 35) & (h <= 95) & (s > 40)
    blue = (h > 95) & (h <= 122) & (s > 90)
    black = (v < 70) & (s < 110)
    return green | blue | black


def drop_small_components(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """Mask without its 8-connected pieces smaller than `min_pixels`."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_pixels
    keep[0] = False
    return keep[labels]


def fill_small_holes(mask: np.ndarray, max_pixels: int) -> np.ndarray:
    """Mask with enclosed background pieces (not touching the border) below `max_pixels` filled."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    x, y, w, h, area = (stats[:, i] for i in range(5))
    enclosed = (x > 0) & (y > 0) & (x + w < mask.shape[1]) & (y + h < mask.shape[0])
    fill = enclosed & (area < max_pixels)
    fill[0] = False
    return mask | fill[labels]


def odd(n: float) -> int:
    n = max(1, int(round(n)))
    return n if n % 2 else n + 1


def tissue_mask(rgb: np.ndarray, pixel_um: float, params: MaskParams) -> tuple[np.ndarray, float, np.ndarray]:
    """Boolean tissue mask, the threshold used, and the pen mask, for an RGB image at `pixel_um`."""
    image = channel_image(rgb, params.channel)
    image = cv2.medianBlur(image, min(odd(params.median_um / pixel_um), 255 if image.size > 1 else 1))
    otsu, _ = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    threshold = max(float(otsu), float(params.threshold_floor))
    mask = image > threshold
    pen = pen_mask(rgb) if params.remove_pen else np.zeros_like(mask)
    if pen.any():
        mask &= ~cv2.dilate(pen.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    radius = int(round(params.closing_um / pixel_um))
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)
    pixel_area = pixel_um**2
    mask = fill_small_holes(mask, int(params.min_hole_area_um2 / pixel_area))
    mask = drop_small_components(mask, int(params.min_tissue_area_um2 / pixel_area))
    return mask, threshold, pen
