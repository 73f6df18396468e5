"""Rule tissue_mask: Otsu tissue mask from a pyramid level, GeoJSON polygons, thumbnail and QC picture, and the
scale check (the mpp implied by the nuclei's size against the declared mpp)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from slidesnake.core.atomic import atomic_output
from slidesnake.core.errors import SlideError, SlidesnakeError
from slidesnake.core.provenance import provenance_attrs
from slidesnake.figures.qc import GREEN, QC_MAX_SIDE, RED, draw_outline, fit_within, notice_picture, write_rgb
from slidesnake.io.exclusion import MASK_STAGE, Exclusion
from slidesnake.io.geojson import feature_collection, mask_polygons, write_geojson
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.slide import Slide
from slidesnake.tissue.masking import tissue_mask
from slidesnake.tissue.params import MaskParams, QcParams
from slidesnake.tissue.scale import ScaleEstimate, estimate_slide

log = logging.getLogger(__name__)


def qc_image(slide: Slide, mask_rgb: np.ndarray) -> np.ndarray:
    """The slide at up to QC_MAX_SIDE px on its longer side (a pyramid level read as it is when one lies within
    a factor 2 of that, see Slide.read_thumbnail); the mask-resolution image itself when that is already as
    large. Memory: one such image."""
    if max(mask_rgb.shape[:2]) >= QC_MAX_SIDE:
        return fit_within(mask_rgb)
    return slide.read_thumbnail(QC_MAX_SIDE)[0]


def check_scale(slide_id: str, mpp: float, mpp_source: str, estimate: ScaleEstimate, qc: QcParams) -> float | None:
    """The ratio estimated / declared mpp; beyond qc.scale_tolerance either way, one warning naming the slide,
    both values and the ratio (scale_action warn) or a SlideError (exclude). No estimate: None, no action."""
    if estimate.mpp is None:
        log.info("slide '%s': no scale estimate (%s)", slide_id, estimate.reason)
        return None
    ratio = estimate.mpp / mpp
    message = (
        f"the nuclei's size implies {estimate.mpp:.3g} um/px, the declared mpp ({mpp_source}) is {mpp:.3g} um/px: "
        f"ratio {ratio:.2f}, beyond qc.scale_tolerance {qc.scale_tolerance:g}"
    )
    if max(ratio, 1 / ratio) <= qc.scale_tolerance:
        log.info(
            "slide '%s': scale check %.3g um/px estimated, %.3g declared, ratio %.2f",
            slide_id,
            estimate.mpp,
            mpp,
            ratio,
        )
    elif qc.scale_action == "exclude":
        raise SlideError(slide_id, f"{message} (qc.scale_action: exclude)")
    else:
        log.warning("slide '%s': %s; check the slide's mpp", slide_id, message)
    return ratio


def measure(
    slide_path: Path,
    slide_id: str,
    sheet_mpp: float | None,
    default_mpp: float | None,
    params: MaskParams,
    qc: QcParams | None,
):
    """Read and mask one slide: (info, mask, pen, thumbnail, downsample). Raises the named error of a slide that
    cannot be prepared: unreadable, no mpp, no tissue (qc given), a scale mismatch with scale_action exclude."""
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
        del rgb
        if qc is None:
            estimate = ScaleEstimate(None, None, None, 0, "scale check not asked for")
        else:
            estimate = estimate_slide(slide, mask, ds, qc.nucleus_um)
    if not mask.any():
        message = f"no tissue found (threshold {threshold:.0f} on {params.channel})"
        if qc is not None:
            raise SlideError(slide_id, message)
        log.warning("slide '%s': %s; its tile file will be empty", slide_id, message)
    ratio = None if qc is None else check_scale(slide_id, mpp, mpp_source, estimate, qc)
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
        scale_mpp=estimate.mpp,
        scale_note=estimate.reason,
        scale_ratio=ratio,
        nucleus_px=estimate.diameter_px,
        nucleus_spread=estimate.spread,
        nuclei=estimate.nuclei,
        provenance=provenance_attrs(asdict(params)),
    )
    return info, mask, pen, thumbnail, ds


def write_excluded(
    slide_id: str,
    exclusion: Exclusion,
    params: MaskParams,
    mask_png: Path,
    mask_json: Path,
    geojson_path: Path,
    thumbnail_jpg: Path,
    qc_jpg: Path,
) -> MaskInfo:
    """Every output of a slide the mask job cannot prepare, marked excluded: an empty mask and GeoJSON, a
    thumbnail and QC picture that say why, and the info JSON with the exclusion."""
    exclusion.warn(slide_id)
    picture = notice_picture([f"slide {slide_id}", f"excluded: {exclusion.reason}", f"file: {exclusion.source}"])
    with atomic_output(mask_png) as tmp:
        cv2.imwrite(str(tmp), np.zeros((1, 1), np.uint8))
    for path in (thumbnail_jpg, qc_jpg):
        with atomic_output(path) as tmp:
            write_rgb(tmp, picture)
    with atomic_output(geojson_path) as tmp:
        write_geojson(tmp, feature_collection([], "Tissue", GREEN, {"slide_id": slide_id}))
    info = MaskInfo.excluded(slide_id, exclusion, provenance_attrs(asdict(params)))
    info.write(mask_json)
    return info


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
    qc: QcParams | None = None,
    source: str | None = None,
) -> MaskInfo:
    """Mask one slide at `params.mpp`; write the mask, its info JSON, QuPath GeoJSON, and a thumbnail and QC
    image at a readable size (up to QC_MAX_SIDE px, from a pyramid level). With `qc` (the rule always passes
    it), estimate the slide's scale from its nuclei in tissue tiles and check it against the declared mpp, and
    exclude a slide that cannot be prepared (its named error or an OSError reading it; `source`: the user's
    file) unless qc.strict, where that error fails the job."""
    try:
        info, mask, pen, thumbnail, ds = measure(slide_path, slide_id, sheet_mpp, default_mpp, params, qc)
    except (SlidesnakeError, OSError) as error:
        if qc is None or qc.strict:
            raise
        exclusion = Exclusion(MASK_STAGE, str(error), source or str(slide_path))
        return write_excluded(slide_id, exclusion, params, mask_png, mask_json, geojson_path, thumbnail_jpg, qc_jpg)
    polygons = mask_polygons(mask, ds)
    qc_picture = draw_outline(thumbnail, mask, GREEN)
    if pen.any():
        qc_picture = draw_outline(qc_picture, pen, RED, 1)
    with atomic_output(mask_png) as tmp:
        cv2.imwrite(str(tmp), mask.astype(np.uint8) * 255)
    with atomic_output(thumbnail_jpg) as tmp:
        write_rgb(tmp, thumbnail)
    with atomic_output(qc_jpg) as tmp:
        write_rgb(tmp, qc_picture)
    with atomic_output(geojson_path) as tmp:
        write_geojson(tmp, feature_collection(polygons, "Tissue", GREEN, {"slide_id": slide_id}))
    info.write(mask_json)
    log.info(
        "slide '%s': tissue %.1f%% of the slide (%.1f mm2), %d polygons, threshold %.0f",
        slide_id,
        100 * info.tissue_fraction,
        info.tissue_area_mm2,
        len(polygons),
        info.threshold,
    )
    return info
