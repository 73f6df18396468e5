"""Rule tissue_mask: Otsu tissue mask from a pyramid level, GeoJSON polygons, thumbnail and QC picture."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.core.provenance import provenance_attrs
from slidesnake.figures.qc import GREEN, QC_MAX_SIDE, RED, draw_outline, fit_within, write_rgb
from slidesnake.io.geojson import feature_collection, mask_polygons, write_geojson
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.slide import Slide
from slidesnake.tissue.masking import tissue_mask
from slidesnake.tissue.params import MaskParams

log = logging.getLogger(__name__)


def qc_image(slide: Slide, mask_rgb: np.ndarray) -> np.ndarray:
    """The slide at QC_MAX_SIDE px on its longer side (or level 0 when smaller), read from the nearest
    pyramid level; the mask-resolution image itself when that is already as large. Memory: one such image."""
    if max(mask_rgb.shape[:2]) >= QC_MAX_SIDE:
        return fit_within(mask_rgb)
    return slide.read_downsampled(max(1.0, max(slide.dimensions) / QC_MAX_SIDE))


def run(
    slide_path: Path,
    slide_id: str,
    sheet_mpp: float | None,
    default_mpp: float | None,
    params: MaskParams,
    mask_png: Path,
    mask_json: Path,
    geojson_path: Path,
    thumbnail_jpg: Path,
    qc_jpg: Path,
) -> MaskInfo:
    """Mask one slide at `params.mpp`; write the mask, its info JSON, QuPath GeoJSON, and a thumbnail and QC
    image at a readable size (up to QC_MAX_SIDE px, from a pyramid level)."""
    with Slide(slide_path, slide_id, mpp=sheet_mpp, default_mpp=default_mpp) as slide:
        rgb, downsample = slide.thumbnail_at_mpp(params.mpp)
        level0 = slide.dimensions
        thumbnail = qc_image(slide, rgb)
        vendor, mpp, mpp_source = slide.vendor, slide.mpp, slide.mpp_source
        level_downsamples = list(slide.level_downsamples)
    height, width = rgb.shape[:2]
    ds = (level0[0] / width, level0[1] / height)
    pixel_um = mpp * (ds[0] + ds[1]) / 2
    mask, threshold, pen = tissue_mask(rgb, pixel_um, params)
    tissue_um2 = float(mask.sum()) * ds[0] * ds[1] * mpp**2
    info = MaskInfo(
        slide_id=slide_id,
        vendor=vendor,
        level0_width=level0[0],
        level0_height=level0[1],
        mpp=mpp,
        mpp_source=mpp_source,
        level_downsamples=level_downsamples,
        mask_downsample=list(ds),
        mask_mpp=pixel_um,
        threshold=threshold,
        tissue_fraction=float(mask.mean()),
        tissue_area_mm2=tissue_um2 / 1e6,
        pen_fraction=float(pen.mean()),
        provenance=provenance_attrs(asdict(params)),
    )
    if not mask.any():
        log.warning(
            "slide '%s': no tissue found (threshold %.0f on %s); its tile file will be empty",
            slide_id,
            threshold,
            params.channel,
        )
    polygons = mask_polygons(mask, ds)
    del rgb
    qc = draw_outline(thumbnail, mask, GREEN)
    if pen.any():
        qc = draw_outline(qc, pen, RED, 1)
    with atomic_output(mask_png) as tmp:
        cv2.imwrite(str(tmp), mask.astype(np.uint8) * 255)
    with atomic_output(thumbnail_jpg) as tmp:
        write_rgb(tmp, thumbnail)
    with atomic_output(qc_jpg) as tmp:
        write_rgb(tmp, qc)
    with atomic_output(geojson_path) as tmp:
        write_geojson(tmp, feature_collection(polygons, "Tissue", GREEN, {"slide_id": slide_id}))
    info.write(mask_json)
    log.info(
        "slide '%s': tissue %.1f%% of the slide (%.1f mm2), %d polygons, threshold %.0f",
        slide_id,
        100 * info.tissue_fraction,
        info.tissue_area_mm2,
        len(polygons),
        threshold,
    )
    return info
