"""Fail early, naming the slide, when a fetched file is not a slide OpenSlide can read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openslide

from .errors import SlideError


def check_readable(path: Path, slide_id: str) -> dict:
    """Open the slide and decode one small region of its smallest level; returns a summary for the log."""
    try:
        with openslide.OpenSlide(str(path)) as handle:
            level = handle.level_count - 1
            np.asarray(handle.read_region((0, 0), level, (min(64, handle.level_dimensions[level][0]),
                                                          min(64, handle.level_dimensions[level][1]))))
            return {"slide": slide_id, "vendor": handle.properties.get(openslide.PROPERTY_NAME_VENDOR),
                    "dimensions": handle.dimensions, "levels": handle.level_count,
                    "mpp": handle.properties.get(openslide.PROPERTY_NAME_MPP_X)}
    except (openslide.OpenSlideError, OSError) as error:
        raise SlideError(slide_id, f"OpenSlide cannot read {path}: {error}") from error
