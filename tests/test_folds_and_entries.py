"""Domain logic the training and evaluation jobs call, on data held in memory: PU learning across folds and
the evaluation report's entries."""

import numpy as np
import pandas as pd
import pytest

from helpers import pu_params
from slidesnake.core.errors import ConfigError, SlideError
from slidesnake.evaluation.entries import model_entry, pu_entry
from slidesnake.evaluation.splits import TEST, fold_partitions, patient_folds
from slidesnake.pu.folds import SlideTiles, cross_validate_pu

CLASSES = ["normal", "tumor"]


def toy_cohort(n_slides=12, tiles=40, seed=0):
    """Half the slides tumor, with the first 10 tiles tumor (feature 0 shifted) and 5 of them annotated."""
    rng = np.random.default_rng(seed)
    labels = {f"s{k}": CLASSES[k % 2] for k in range(n_slides)}
    data, truth = {}, {}
    for slide, label in labels.items():
        features = rng.normal(0, 1, (tiles, 4)).astype(np.float32)
        tumor = np.zeros(tiles)
        annotated = None
        if label == "tumor":
            tumor[:10] = 1.0
            features[:10, 0] += 4
            annotated = np.zeros(tiles)
            annotated[:5] = 1.0
        data[slide], truth[slide] = SlideTiles(features, annotated), tumor
    table = pd.DataFrame(
        {"slide_id": list(labels), "patient_id": [f"p{s}" for s in labels], "label": list(labels.values())}
    )
    return patient_folds(table, 3, 0).astype(str), data, truth


def test_pu_across_folds_scores_every_slide_once_on_its_test_fold():
    splits, data, truth = toy_cohort()
    result = cross_validate_pu("t", "tumor", splits, data, pu_params(min_steps=50, max_steps=100))
    assert sorted(result.tile_scores) == sorted(splits["slide_id"]) and len(result.folds) == 3
    for row in result.slide_rows:
        assert row["slide_id"] in fold_partitions(splits, row["fold"])[TEST]
    assert {f["n_positive"] for f in result.folds} <= {15, 20} and 0 <= result.summary("t")["mean_estimated_prior"] <= 1
    entry = pu_entry(
        pd.DataFrame(result.slide_rows),
        result.summary("t"),
        "tumor",
        truth,
        {m: {s: v[m] for s, v in result.tile_scores.items()} for m in ("nnpu", "naive", "tumor_mask")},
        {s: d.annotated_tumor for s, d in data.items()},
        0.5,
    )
    assert entry["tile_auc"]["nnpu"] > 0.9 and entry["slide_auc"]["nnpu"] > 0.9
    assert entry["true_prior_of_unlabeled"] == pytest.approx(5 / 35)
    # each fold's mask threshold calls its prior's share of U; the masks find the shifted tiles
    for fold in result.folds:
        assert 0 < fold["tumor_mask_threshold"] < 1
    for slide, scores in result.tile_scores.items():
        fold = next(f for f in result.folds if slide in fold_partitions(splits, f["fold"])[TEST])
        assert np.array_equal(scores["tumor_mask"] > 0, scores["nnpu"] >= fold["tumor_mask_threshold"])
    assert entry["mask"]["slides"] == 6 and entry["mask"]["dice_mean"] > 0.6
    assert entry["mask"]["iou_mean"] <= entry["mask"]["dice_mean"]


def test_fixed_mask_threshold_replaces_the_prior_rule():
    splits, data, _ = toy_cohort()
    result = cross_validate_pu("t", "tumor", splits, data, pu_params(min_steps=50, max_steps=100, mask_threshold=0.7))
    assert {f["tumor_mask_threshold"] for f in result.folds} == {0.7}


def test_pu_across_folds_names_what_the_user_must_fix():
    splits, data, _ = toy_cohort()
    unannotated = {**data, "s1": SlideTiles(data["s1"].features, None)}
    with pytest.raises(SlideError, match="slide 's1'.*no annotation mask"):
        cross_validate_pu("t", "tumor", splits, unannotated, pu_params())
    with pytest.raises(ConfigError, match="pu.tumor_threshold"):
        cross_validate_pu("t", "tumor", splits, data, pu_params(tumor_threshold=1.5))


def test_model_entry_metrics_spread_and_localisation(monkeypatch):
    from slidesnake.evaluation import entries

    monkeypatch.setattr(
        entries, "grouped_interval", lambda statistic, groups: [0.0, 1.0]
    )  # bootstrap: tested elsewhere
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 10)
    p = np.clip(y * 0.6 + rng.random(20) * 0.4, 0, 1)
    table = pd.DataFrame(
        {
            "slide_id": [f"s{k}" for k in range(20)],
            "patient_id": [f"p{k}" for k in range(20)],
            "label": [CLASSES[i] for i in y],
            "fold": np.arange(20) // 2 % 2,
            "prob_normal": 1 - p,
            "prob_tumor": p,
        }
    )
    truth = {s: np.r_[np.ones(5), np.zeros(15)] for s in table["slide_id"]}
    scores = {s: np.r_[np.full(5, 0.9), np.full(15, 0.1)] + rng.random(20) * 0.01 for s in truth}
    entry = model_entry(table, CLASSES, truth, scores, attention={s: -v for s, v in scores.items()})
    assert (
        entry["oof"]["auc"] == 1.0
        and entry["oof"]["auc_ci"] == [0.0, 1.0]
        and entry["fold_auc_mean"] == 1.0
        and entry["fold_auc_sd"] == 0.0
    )
    assert entry["localisation"]["mean_slide_auc"] == 1.0 and entry["localisation"]["slides"] == 10
    assert entry["attention_localisation"]["mean_slide_auc"] == 0.0
    assert "localisation" not in model_entry(table, CLASSES, {}, {})
