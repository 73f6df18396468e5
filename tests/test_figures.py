"""Figures: heatmaps align with what they paint, their memory does not grow with the slide; cohort plots."""

import cv2
import numpy as np
import pandas as pd
import pytest

from helpers import heatmap_params, run_at_sizes, tiling_params
from slidesnake.figures.cohort import confusion_figure, reliability_figure, roc_figure
from slidesnake.figures.heatmap import high_score_regions, paint_scores, render_heatmap
from slidesnake.figures.umap_view import as_rgb, sample_tiles
from slidesnake.tissue.tiling import label_fractions, make_grid


def readable_non_blank(path):
    image = cv2.imread(str(path))
    return image is not None and image.std() > 5


def test_paint_scores_averages_overlaps():
    coords = np.array([[0, 0], [50, 0]])
    score, covered = paint_scores(coords, np.array([1.0, 0.0]), 100, (200, 100), 10.0)
    assert score.shape == (10, 20) and covered[:, :15].all() and not covered[:, 15:].any()
    assert score[0, 2] == 1.0 and score[0, 7] == pytest.approx(0.5) and score[0, 12] == 0.0
    # class probabilities (one vector per tile) average the same way, and class maps take their argmax
    from slidesnake.figures.tile_classes import paint_classes

    probabilities = np.array([[0.9, 0.1], [0.2, 0.8]])
    mean, covered = paint_scores(coords, probabilities, 100, (200, 100), 10.0)
    assert mean.shape == (10, 20, 2) and mean[0, 7] == pytest.approx([0.55, 0.45])
    labels, confidence = paint_classes(coords, probabilities, 100, (200, 100), 10.0)
    assert labels[0, 2] == 0 and labels[0, 12] == 1 and labels[0, 17] == -1 and confidence[0, 12] == pytest.approx(0.8)


def test_thumbnails_come_from_a_pyramid_level_that_fits():
    """A level whose longer side lies in [max_side / 2, max_side] is read as it is; otherwise the image is
    resampled from the nearest finer level to exactly max_side (never above it)."""
    from slidesnake.io.slide import Slide

    class Pyramid:  # the attributes read_thumbnail uses; read_downsampled records the downsample asked for
        def __init__(self, dimensions, level_downsamples):
            self.dimensions, self.level_downsamples = dimensions, level_downsamples

        def read_downsampled(self, downsample):
            return downsample

    demo = Pyramid((6144, 6144), (1.0, 4.0, 16.0))
    assert Slide.read_thumbnail(demo, 2048) == (4.0, 4.0)  # level 1, 1536 px: served as it is
    assert Slide.read_thumbnail(demo, 4096) == (1.5, 1.5)  # no level gives 2048-4096 px: resampled to 4096
    assert Slide.read_thumbnail(Pyramid((1000, 800), (1.0,)), 2048) == (1.0, 1.0)  # smaller than max_side
    assert Slide.read_thumbnail(Pyramid((100_000, 50_000), (1.0, 4.0, 16.0, 32.0, 64.0)), 2048) == (64.0, 64.0)


def test_heatmap_of_truth_is_hot_inside_truth(tumor_slide, tmp_path):
    """Tiles scored by their truth tumor share: the hot pixels of the map fall inside the truth tumor."""
    truth = cv2.imread(str(tumor_slide["truth"]), cv2.IMREAD_GRAYSCALE)
    plan = tumor_slide["plan"]
    ds = tumor_slide["stats"]["truth_downsample"]
    grid = make_grid(
        truth > 0, (ds, ds), (plan.width, plan.height), plan.mpp, tiling_params(tile_px=128, min_tissue=0.1)
    )
    scores = label_fractions(truth, (ds, ds), grid.coords, grid.size0, (2,))[:, 0]
    image, score, covered, downsample = render_heatmap(
        tumor_slide["slide"], grid.coords, scores, grid.size0, truth, truth, None, heatmap_params(), "none"
    )
    truth_small = cv2.resize(truth, score.shape[::-1], interpolation=cv2.INTER_NEAREST) == 2
    hot = covered & (score >= 0.9)
    assert hot.sum() > 50 and (hot & truth_small).sum() / hot.sum() > 0.95
    cold = covered & (score <= 0.05)
    assert (cold & truth_small).sum() / cold.sum() < 0.05
    regions = high_score_regions(score, covered, downsample, 0.5, "x")
    assert regions["features"] and regions["features"][0]["properties"]["classification"]["name"] == "Tumor (predicted)"
    assert image.shape[:2] == score.shape


PEAK_SCRIPT = """
import json, resource, sys
from dataclasses import replace
from pathlib import Path
import numpy as np
from slidesnake.demo.cohort import write_demo_slide
from slidesnake.demo.plan import plan_cohort
from slidesnake.figures.heatmap import render_heatmap
from slidesnake.workflow.config import default_config, default_params
from slidesnake.figures.params import HeatmapParams
size, folder = int(sys.argv[1]), Path(sys.argv[2])
plan = next(p for p in plan_cohort(default_config()['demo'], 4, 2) if p.label == "tumor")
plan = replace(plan, width=size, height=size)
write_demo_slide(plan, folder / "s.tiff", folder / "t.png", folder / "a.png", folder / "s.json")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
xs = np.arange(0, size, 512)
coords = np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)
params = default_params(HeatmapParams, "figures")
scores = np.random.default_rng(0).random(len(coords))
render_heatmap(folder / "s.tiff", coords, scores, 512, None, None, None, params, "rank")
print(json.dumps([before / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
"""


@pytest.mark.slow
def test_heatmap_memory_does_not_grow_with_slide_size(tmp_path):
    peaks = {size: after for size, (_, after) in run_at_sizes(PEAK_SCRIPT, (4096, 16384), tmp_path).items()}
    assert peaks[16384] < peaks[4096] + 60, peaks  # 16x the pixels; the thumbnail is capped at 2048 px


def test_roc_confusion_and_reliability_figures(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for fold in range(3):
        for i in range(10):
            label = "tumor" if i % 2 else "normal"
            p = np.clip(rng.normal(0.7 if label == "tumor" else 0.3, 0.2), 0, 1)
            rows.append(
                {
                    "slide_id": f"s{fold}{i}",
                    "label": label,
                    "fold": fold,
                    "prob_normal": 1 - p,
                    "prob_tumor": p,
                    "prediction": "tumor" if p > 0.5 else "normal",
                }
            )
    table = pd.DataFrame(rows)
    summary = roc_figure(tmp_path / "roc.png", {"abmil": table, "mean_pool": table}, "tumor")
    confusion_figure(tmp_path / "confusion.png", {"abmil": table}, ["normal", "tumor"])
    assert 0.5 < summary["abmil"]["mean_auc"] <= 1.0
    assert readable_non_blank(tmp_path / "roc.png") and readable_non_blank(tmp_path / "confusion.png")
    constant = table.assign(prob_tumor=0.5, prob_normal=0.5)  # every slide in one bin
    reliability_figure(tmp_path / "reliability.png", {"abmil": table, "constant": constant}, "tumor")
    assert readable_non_blank(tmp_path / "reliability.png")


def test_umap_helpers():
    keep = sample_tiles([100, 0, 50], 30, 0)
    assert [len(k) for k in keep] == [20, 0, 10]
    colours = as_rgb(np.random.default_rng(0).normal(size=(200, 3)))
    assert colours.dtype == np.uint8 and colours.shape == (200, 3) and colours.max() == 255
