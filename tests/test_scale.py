"""The scale check: nuclear size from haematoxylin against the declared mpp (tissue/scale.py, rule tissue_mask)."""

import json

import cv2
import numpy as np
import pytest

from helpers import CMU, mask_params, require_shared_data
from slidesnake.core.errors import SlideError
from slidesnake.io.mask_info import MaskInfo
from slidesnake.io.pyramid_tiff import write_single_level
from slidesnake.io.slide import Slide
from slidesnake.jobs import tissue_mask
from slidesnake.tissue import scale
from slidesnake.tissue.params import QcParams
from slidesnake.workflow.config import default_params

PINK, NUCLEUS = (235, 170, 205), (70, 45, 130)  # eosin background, haematoxylin-dark nuclei


def disc_image(diameter: float, count: int, seed: int = 0, scale_by: int = 1) -> np.ndarray:
    """Non-overlapping discs of `diameter` px on a pink background, the layout scaled by `scale_by`."""
    rng = np.random.default_rng(seed)
    side = 600
    image = np.full((side * scale_by, side * scale_by, 3), PINK, np.uint8)
    centres = []
    while len(centres) < count:
        c = rng.uniform(diameter, side - diameter, 2)
        if all(np.hypot(*(c - o)) > 1.6 * diameter for o in centres):
            centres.append(c)
    for cx, cy in centres:
        cv2.circle(image, (round(cx * scale_by), round(cy * scale_by)), round(diameter * scale_by / 2), NUCLEUS, -1)
    return image


def test_disc_diameters_follow_the_scale():
    small = scale.estimate_image(disc_image(10, 150), reference_um=5.0)
    large = scale.estimate_image(disc_image(10, 150, scale_by=2), reference_um=5.0)
    assert small.nuclei >= 140 and large.nuclei >= 140
    assert small.diameter_px == pytest.approx(10, rel=0.1)
    assert large.diameter_px / small.diameter_px == pytest.approx(2, rel=0.05)
    assert small.mpp == pytest.approx(5.0 / small.diameter_px) and small.spread < 0.2


def test_touching_nuclei_are_split():
    image = np.full((200, 400, 3), PINK, np.uint8)
    for k in range(60):
        cv2.circle(image, (20 + (k % 20) * 18, 20 + (k // 20) * 60), 10, NUCLEUS, -1)  # pairs overlap by 2 px
    diameters = scale.nucleus_diameters(scale.haematoxylin(image), 0.05)
    assert len(diameters) >= 55 and np.median(diameters) < 25


def test_too_few_nuclei_give_no_estimate():
    estimate = scale.estimate_image(disc_image(10, 12), reference_um=5.0)
    assert estimate.mpp is None and estimate.diameter_px is None and estimate.nuclei == 12
    assert f"fewer than {scale.MIN_NUCLEI}" in estimate.reason


@pytest.fixture(scope="module")
def cmu_declared(tmp_path_factory):
    """CMU-1's level-0 pixels (0.499 um/px) in a TIFF that declares `mpp`."""
    require_shared_data()
    folder = tmp_path_factory.mktemp("scale")
    with Slide(CMU) as slide:
        rgb = slide.read_region(0, 0, slide.dimensions, slide.dimensions)

    def write(mpp: float):
        path = folder / f"cmu_{mpp}.tiff"
        if not path.exists():
            write_single_level(path, rgb, mpp)
        return path

    return write


def mask_job(slide_path, folder, qc):
    files = [folder / f"s{suffix}" for suffix in (".png", ".json", ".geojson", "_thumbnail.jpg", "_qc.jpg")]
    tissue_mask.run(slide_path, "cmu", None, None, mask_params(), *files, qc=qc)
    return MaskInfo.read(files[1]), files[1]


def test_a_declared_mpp_off_by_2x_warns_with_both_values(cmu_declared, tmp_path, caplog):
    qc = default_params(QcParams, "qc")
    with caplog.at_level("WARNING"):
        info, path = mask_job(cmu_declared(0.25), tmp_path, qc)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "slide 'cmu'" in warnings[0] and "0.25 um/px" in warnings[0] and "qc.scale_tolerance 1.5" in warnings[0]
    assert info.mpp == pytest.approx(0.25) and info.scale_ratio == pytest.approx(2.0, rel=0.15)
    assert info.scale_mpp == pytest.approx(0.499, rel=0.15) and info.nuclei > 1000
    assert json.loads(path.read_text())["scale_ratio"] == info.scale_ratio
    caplog.clear()
    with caplog.at_level("WARNING"):
        info, _ = mask_job(cmu_declared(0.499), tmp_path, qc)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert info.scale_ratio == pytest.approx(1.0, rel=0.15)


def test_exclude_raises_a_slide_error_naming_both_values(cmu_declared, tmp_path):
    qc = default_params(QcParams, "qc", scale_action="exclude", strict=True)
    with pytest.raises(SlideError, match=r"slide 'cmu'.*is 0\.25 um/px.*qc\.scale_action: exclude"):
        mask_job(cmu_declared(0.25), tmp_path, qc)


def test_exclude_without_strict_excludes_the_slide_naming_both_values(cmu_declared, tmp_path):
    info, _ = mask_job(cmu_declared(0.25), tmp_path, default_params(QcParams, "qc", scale_action="exclude"))
    assert info.exclusion is not None and "qc.scale_action: exclude" in info.exclusion.reason


def test_no_tissue_gives_a_null_estimate_and_a_reason(tmp_path):
    path = tmp_path / "glass.tiff"
    write_single_level(path, np.full((512, 512, 3), 240, np.uint8), 0.5)
    info, _ = mask_job(path, tmp_path, default_params(QcParams, "qc"))
    assert info.scale_mpp is None and info.scale_ratio is None and info.nuclei == 0
    assert "no tissue found" in info.exclusion.reason  # the slide is excluded, and says why


@pytest.mark.parametrize("declared,warns", [(1.0, True), (0.7, False), (0.36, False), (0.3, True)])
def test_the_tolerance_holds_both_ways(declared, warns, caplog):
    estimate = scale.ScaleEstimate(10.0, 0.3, 0.5, 500, None)
    with caplog.at_level("WARNING"):
        ratio = tissue_mask.check_scale("s", declared, "sample sheet", estimate, default_params(QcParams, "qc"))
    assert ratio == pytest.approx(0.5 / declared)
    assert bool([r for r in caplog.records if r.levelname == "WARNING"]) == warns


def test_mask_info_from_before_the_scale_check_reads_as_no_estimate(cmu_declared, tmp_path):
    _, path = mask_job(cmu_declared(0.499), tmp_path, None)
    values = json.loads(path.read_text())
    for name in ("scale_mpp", "scale_note", "scale_ratio", "nucleus_px", "nucleus_spread", "nuclei"):
        del values[name]
    path.write_text(json.dumps(values))
    info = MaskInfo.read(path)
    assert info.scale_mpp is None and info.scale_ratio is None and info.nuclei == 0
    assert info.provenance and "nuclei" not in info.provenance
