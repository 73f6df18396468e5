"""Label masks (slidesnake.core.labels: 0 background, 1 tissue, 2 tumor) from PNG or (pyramidal) TIFF files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import tifffile

from slidesnake.core.errors import InputFileError

MAX_LABEL_PIXELS = 8192 * 8192  # read a coarser pyramid level than this


def read_label_mask(path: str | Path) -> np.ndarray:
    """2-D uint8 labels. Colour files carry the label in the red channel (the PANDA convention);
    pyramidal TIFFs are read at the finest level under MAX_LABEL_PIXELS."""
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        with tifffile.TiffFile(path) as tif:
            levels = tif.series[0].levels
            level = next((lv for lv in levels if np.prod(lv.shape[:2]) <= MAX_LABEL_PIXELS), levels[-1])
            labels = level.asarray()
    else:
        labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if labels is None:
            raise InputFileError(path, "cannot be read as a label mask (PNG, TIFF)")
        if labels.ndim == 3:
            labels = labels[..., 2]  # OpenCV loads BGR: red is last
    if labels.ndim == 3:
        labels = labels[..., 0]
    return np.ascontiguousarray(labels.astype(np.uint8))
