"""Synthetic demo cohort: readable pyramids, truth that matches the pixels, determinism, bounded memory."""

import hashlib
import json
import subprocess
import sys
from dataclasses import replace

import cv2
import numpy as np
import openslide
import pytest

from helpers import demo_config, package_env, small_plan, write_small_slide
from slidesnake.core.labels import TUMOR
from slidesnake.demo.cohort import level_sizes, partial_annotation
from slidesnake.demo.plan import plan_cohort
from slidesnake.io.pyramid_tiff import PyramidTiffWriter, encode_jpeg_tile
from slidesnake.io.slide import Slide


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_plan_is_balanced_with_paired_patients():
    plans = plan_cohort(demo_config(seed=0), 24)
    labels = [p.label for p in plans]
    assert labels.count("tumor") == labels.count("normal") == 12
    patients = {}
    for p in plans:
        patients.setdefault(p.patient_id, []).append(p)
    pairs = [v for v in patients.values() if len(v) == 2]
    assert pairs, "some patients should hold two slides"
    assert all(len({p.label for p in v}) == 1 for v in pairs)
    assert all(p.tumor_fraction == 0 for p in plans if p.label == "normal")
    assert all(0.05 <= p.tumor_fraction <= 0.35 for p in plans if p.label == "tumor")
    assert plan_cohort(demo_config(seed=0), 24) == plans and plan_cohort(demo_config(seed=1), 24) != plans


def test_openslide_reads_pyramid_and_mpp(tumor_slide):
    plan = tumor_slide["plan"]
    with Slide(tumor_slide["slide"]) as slide:
        assert slide.dimensions == (plan.width, plan.height)
        assert len(slide.level_dimensions) >= 3
        assert slide.level_dimensions == tuple(level_sizes(plan.width, plan.height))
        assert slide.mpp == pytest.approx(plan.mpp, rel=1e-3) and slide.mpp_source == "file"
        assert [round(d) for d in slide.level_downsamples[:3]] == [1, 4, 16]
        region = slide.read_region(plan.width - 100, plan.height - 100, 100, 100)
        assert region.shape == (100, 100, 3)


def test_truth_masks_align_with_nuclei(tumor_slide):
    """Tumor truth pixels are nuclei-dense (haematoxylin-dark) in the image; stroma is not."""
    with Slide(tumor_slide["slide"]) as slide:
        image = slide.read_downsampled(4)
    truth = cv2.imread(str(tumor_slide["truth"]), cv2.IMREAD_GRAYSCALE)
    truth = cv2.resize(truth, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    inner = {v: cv2.erode((truth == v).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) for v in (0, 1, 2)}
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(float)
    blue_ratio = image[..., 2].astype(float) / (image[..., 0].astype(float) + 1)
    assert inner[2].sum() > 100 and inner[1].sum() > 100
    assert grey[inner[2]].mean() < grey[inner[1]].mean() - 25  # tumor darker than stroma
    assert blue_ratio[inner[2]].mean() > blue_ratio[inner[1]].mean()  # more haematoxylin
    assert grey[inner[0]].mean() > 220  # background is glass
    stats = tumor_slide["stats"]
    assert stats["tumor_fraction_of_tissue"] == pytest.approx(tumor_slide["plan"].tumor_fraction, abs=0.12)


def test_annotation_is_partial_and_inside_truth(tumor_slide):
    truth = cv2.imread(str(tumor_slide["truth"]), cv2.IMREAD_GRAYSCALE)
    annotation = cv2.imread(str(tumor_slide["annotation"]), cv2.IMREAD_GRAYSCALE)
    assert set(np.unique(annotation)) <= {0, 1, 2}
    annotated = annotation == TUMOR
    assert annotated.any() and np.all(truth[annotated] == TUMOR)
    share = annotated.sum() / (truth == TUMOR).sum()
    assert share == pytest.approx(tumor_slide["plan"].annotation_fraction, abs=0.02)
    assert np.array_equal(annotation > 0, truth > 0)


def test_partial_annotation_fraction():
    truth = np.zeros((60, 60), np.uint8)
    truth[5:55, 5:55] = 1
    truth[10:30, 10:30] = 2
    truth[35:50, 35:50] = 2
    for fraction in (0.0, 0.1, 0.5, 1.0):
        annotation = partial_annotation(truth, fraction, np.random.default_rng(0))
        assert (annotation == 2).sum() == round(fraction * (truth == 2).sum())


def test_normal_slide_has_no_tumor(normal_slide):
    truth = cv2.imread(str(normal_slide["truth"]), cv2.IMREAD_GRAYSCALE)
    assert (truth == 1).any() and not (truth == 2).any()


def test_same_seed_same_bytes(tmp_path, tumor_slide):
    again = write_small_slide(tmp_path, label="tumor", artefacts=False)
    for key in ("slide", "truth", "annotation"):
        assert md5(again[key]) == md5(tumor_slide[key])
    other = write_small_slide(tmp_path / "other", label="tumor", artefacts=False, seed=8, slide_id="x")
    assert md5(other["slide"]) != md5(tumor_slide["slide"])


def test_writer_rejects_missing_and_duplicate_tiles(tmp_path):
    tile = encode_jpeg_tile(np.full((256, 256, 3), 200, np.uint8), 256, 90)
    writer = PyramidTiffWriter(tmp_path / "x.tiff", [(300, 300)], mpp=0.5)
    writer.write_tile(0, 0, 0, tile)
    with pytest.raises(ValueError, match="written twice"):
        writer.write_tile(0, 0, 0, tile)
    with pytest.raises(ValueError, match="never written"):
        writer.close()


def test_bigtiff_is_readable(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (300, 520, 3), np.uint8)
    writer = PyramidTiffWriter(tmp_path / "big.tiff", [(520, 300)], mpp=0.25, bigtiff=True)
    for ty in range(2):
        for tx in range(3):
            writer.write_tile(
                0, tx, ty, encode_jpeg_tile(image[ty * 256 : (ty + 1) * 256, tx * 256 : (tx + 1) * 256], 256, 95)
            )
    writer.close()
    with openslide.OpenSlide(str(tmp_path / "big.tiff")) as handle:
        assert handle.dimensions == (520, 300)
        assert float(handle.properties["openslide.mpp-x"]) == pytest.approx(0.25)
        assert (tmp_path / "big.tiff").read_bytes()[2:4] == b"\x2b\x00"


PEAK_RSS_SCRIPT = """
import json, resource, sys
from pathlib import Path
from dataclasses import replace
from slidesnake.demo.cohort import write_demo_slide
from slidesnake.demo.plan import plan_cohort
from slidesnake.workflow.config import default_config
size, folder = int(sys.argv[1]), Path(sys.argv[2])
plan = next(p for p in plan_cohort(default_config()['demo'], 4, 3) if p.label == "tumor")
plan = replace(plan, width=size, height=size)
write_demo_slide(plan, folder / "s.tiff", folder / "t.png", folder / "a.png", folder / "s.json")
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""


def peak_rss_mb(size, folder):
    folder.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SCRIPT, str(size), str(folder)],
        env=package_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_memory_does_not_grow_with_slide_size(tmp_path):
    """16x the pixels must not need more than a few MB more (masks at 1/256 of the area are kept)."""
    small = peak_rss_mb(4096, tmp_path / "small")
    large = peak_rss_mb(16384, tmp_path / "large")
    assert large < small * 1.15 + 30, (small, large)


def tumor_and_stroma_grey(plan) -> tuple[float, float, np.ndarray]:
    """Mean grey of tumor and of benign tissue pixels in a window across a tumor border, and its RGB."""
    from slidesnake.demo.cohort import build_renderer

    renderer = build_renderer(plan)
    ys, xs = np.nonzero((renderer.layout.tumor > 0) & (renderer.layout.tissue > 0.2))
    cy, cx = ys[len(ys) // 2] * 32, xs[len(xs) // 2] * 32
    rgb, tissue, tumor = renderer.render(cx - 384, cy - 384, 768, 768)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(float)
    return grey[tumor].mean(), grey[tissue & ~tumor].mean(), rgb


def test_harder_demo_knobs():
    """Lower atypia brings tumor close to benign tissue; sites move the stain more than slides of one site
    differ; the default knobs render exactly the easy demo."""
    base = replace(small_plan(artefacts=False), tumor_fraction=0.3)
    easy_tumor, easy_stroma, _ = tumor_and_stroma_grey(base)
    hard_tumor, hard_stroma, _ = tumor_and_stroma_grey(replace(base, tumor_atypia=0.35))
    assert easy_stroma - easy_tumor > 2.5 * (hard_stroma - hard_tumor) > 0
    from slidesnake.demo.render import Stain

    vectors = {
        site: np.array([Stain.random(np.random.default_rng([seed, 1]), site, 0.1).hematoxylin for seed in range(30)])
        for site in (0, 1, 2)
    }
    spread = max(v.std(0).max() for v in vectors.values())
    between = min(np.abs(vectors[a].mean(0) - vectors[b].mean(0)).max() for a, b in ((0, 1), (0, 2), (1, 2)))
    assert between > 1.5 * spread
    assert np.array_equal(
        tumor_and_stroma_grey(replace(base, tumor_atypia=1.0, site_stain_shift=0.0))[2], tumor_and_stroma_grey(base)[2]
    )
