"""Tissue masks on demo slides with known truth, on blank glass, with pen ink, and on the real slides."""

import json

import cv2
import numpy as np
import pytest

from helpers import mask_params
from slidesnake.core.errors import SlideError
from slidesnake.io.geojson import mask_polygons
from slidesnake.jobs import tissue_mask as tissue_mask_job
from slidesnake.tissue.masking import fill_small_holes, tissue_mask


def mask_outputs(folder, name):
    return [folder / f"{name}{s}" for s in (".png", ".json", ".geojson", "_thumb.jpg", "_qc.jpg")]


def run_mask(slide_path, folder, name="s", sheet_mpp=None, default_mpp=None, params=None):
    outputs = mask_outputs(folder, name)
    info = tissue_mask_job.run(slide_path, name, sheet_mpp, default_mpp, params or mask_params(), *outputs)
    return info, cv2.imread(str(outputs[0]), cv2.IMREAD_GRAYSCALE) > 0, outputs


@pytest.mark.parametrize("channel", ["saturation", "od", "grey"])
def test_mask_matches_truth(tumor_slide, tmp_path, channel):
    info, mask, _ = run_mask(tumor_slide["slide"], tmp_path, params=mask_params(channel=channel))
    truth = cv2.imread(str(tumor_slide["truth"]), cv2.IMREAD_GRAYSCALE) > 0
    truth = cv2.resize(truth.astype(np.uint8), mask.shape[::-1], interpolation=cv2.INTER_AREA) > 0
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.85, iou
    assert info.mpp_source == "file" and info.mask_mpp == pytest.approx(8.0, rel=0.05)


def test_blank_glass_finds_no_tissue():
    rng = np.random.default_rng(0)
    glass = np.clip(rng.normal(238, 3, (300, 300, 3)), 0, 255).astype(np.uint8)
    mask, threshold, _ = tissue_mask(glass, 8.0, mask_params())
    assert not mask.any() and threshold >= mask_params().threshold_floor


def test_pen_ink_is_removed():
    image = np.full((200, 200, 3), 240, np.uint8)
    cv2.circle(image, (60, 100), 40, (200, 120, 190), -1)  # pink tissue
    cv2.line(image, (120, 20), (190, 180), (30, 150, 60), 12)  # green marker
    params = mask_params(min_tissue_area_um2=0, closing_um=0)
    mask, _, pen = tissue_mask(image, 8.0, params)
    assert mask[100, 60] and not mask[100, 155] and pen[100, 155]
    kept, _, _ = tissue_mask(image, 8.0, mask_params(remove_pen=False, min_tissue_area_um2=0, closing_um=0))
    assert kept[100, 155]


def test_small_holes_filled_large_kept():
    mask = np.ones((50, 50), bool)
    mask[10:12, 10:12] = False
    mask[20:40, 20:40] = False
    filled = fill_small_holes(mask, 10)
    assert filled[10, 10] and not filled[30, 30]


def test_geojson_polygons_in_level0_coordinates(tumor_slide, tmp_path):
    info, mask, outputs = run_mask(tumor_slide["slide"], tmp_path)
    collection = json.loads(outputs[2].read_text())
    assert collection["type"] == "FeatureCollection" and collection["features"]
    width, height = info.level0_width, info.level0_height
    for feature in collection["features"]:
        assert feature["properties"]["classification"]["name"] == "Tissue"
        for ring in feature["geometry"]["coordinates"]:
            ring = np.array(ring)
            assert len(ring) >= 4 and np.array_equal(ring[0], ring[-1])
            assert ring[:, 0].min() >= 0 and ring[:, 0].max() <= width
            assert ring[:, 1].min() >= 0 and ring[:, 1].max() <= height
    # polygon area (outer minus holes) is close to the mask area in level-0 px
    area = sum(
        cv2.contourArea(np.array(f["geometry"]["coordinates"][0], np.float32))
        - sum(cv2.contourArea(np.array(h, np.float32)) for h in f["geometry"]["coordinates"][1:])
        for f in collection["features"]
    )
    ds = info.mask_downsample
    assert area == pytest.approx(mask.sum() * ds[0] * ds[1], rel=0.1)


def test_polygon_with_hole():
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:35] = True
    mask[15:25, 15:25] = False
    polygons = mask_polygons(mask, (2.0, 2.0))
    assert len(polygons) == 1 and len(polygons[0]) == 2


def test_real_aperio_jpeg_slide(real_slides, tmp_path):
    info, mask, outputs = run_mask(real_slides["cmu"], tmp_path, "cmu")
    assert info.vendor == "aperio" and info.mpp == pytest.approx(0.499)
    assert 0.2 < mask.mean() < 0.95
    assert outputs[4].stat().st_size > 1000


def test_real_slide_without_mpp(real_slides, tmp_path):
    with pytest.raises(SlideError, match="TCGA.*no microns-per-pixel"):
        run_mask(real_slides["tcga"], tmp_path, "TCGA-CR-7395")
    info, mask, _ = run_mask(real_slides["tcga"], tmp_path, "tcga", sheet_mpp=0.25)
    assert info.mpp_source == "sample sheet" and mask.any()
    info, _, _ = run_mask(real_slides["tcga"], tmp_path, "tcga2", default_mpp=0.5)
    assert info.mpp_source == "config default_mpp" and info.mpp == 0.5


def test_qc_pictures_of_a_small_slide_are_readable(real_slides, tmp_path):
    """CMU-1-Small-Region (2220 x 2967 px): QC from the slide itself, not from the 8 um/px mask image."""
    _, mask, outputs = run_mask(real_slides["cmu"], tmp_path, "cmu")
    qc = cv2.imread(str(outputs[4]))
    assert max(mask.shape) < 200 and max(qc.shape[:2]) == 2048
    assert cv2.imread(str(outputs[3])).shape == qc.shape
