"""Calibration and operating points of out-of-fold slide probabilities, against hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from slidesnake.evaluation.calibration import (
    CALIBRATION,
    OPERATING_POINTS,
    PLATT,
    TARGET,
    YOUDEN,
    brier_score,
    calibration,
    expected_calibration_error,
    nested_platt,
    nested_thresholds,
    operating_point,
    platt_apply,
    platt_entry,
    platt_fit,
    reliability_bins,
    sensitivity_threshold,
    youden_threshold,
)
from slidesnake.evaluation.entries import model_entry
from slidesnake.evaluation.report import markdown_report

CLASSES = ["normal", "tumor"]


def test_ece_and_brier_of_hand_computed_cases():
    y, p = np.array([0, 0, 1, 1]), np.array([0.05, 0.15, 0.85, 0.95])  # one slide per bin
    assert expected_calibration_error(y, p) == pytest.approx((0.05 + 0.15 + 0.15 + 0.05) / 4)
    assert brier_score(y, p) == pytest.approx((0.05**2 + 0.15**2 + 0.15**2 + 0.05**2) / 4)
    # three slides share bin [0.3, 0.4): mean 0.33, observed 2/3; probability 1.0 falls into the last bin
    y, p = np.array([0, 1, 1, 1]), np.array([0.31, 0.33, 0.35, 1.0])
    assert expected_calibration_error(y, p) == pytest.approx(3 / 4 * (2 / 3 - 0.33))
    assert expected_calibration_error(y, p, bins=1) == pytest.approx(abs(3 / 4 - np.mean(p)))
    assert expected_calibration_error(np.array([0, 1]), np.array([0.5, 0.5])) == 0.0
    assert brier_score(np.array([0, 1]), np.array([0.5, 0.5])) == 0.25
    assert expected_calibration_error([], []) is None and brier_score([], []) is None


def test_reliability_bins():
    bins = reliability_bins(np.array([0, 1, 1, 1]), np.array([0.31, 0.33, 0.35, 1.0]))
    assert len(bins) == 10 and [b["count"] for b in bins] == [0, 0, 0, 3, 0, 0, 0, 0, 0, 1]
    assert bins[3]["lower"] == pytest.approx(0.3) and bins[3]["upper"] == pytest.approx(0.4)
    assert bins[3]["mean_predicted"] == pytest.approx(0.33) and bins[3]["observed"] == pytest.approx(2 / 3)
    assert bins[9]["observed"] == 1.0 and bins[0]["observed"] is None and bins[0]["mean_predicted"] is None


def test_youden_and_target_sensitivity_thresholds():
    y, p = np.array([0, 0, 0, 1, 1, 1]), np.array([0.1, 0.4, 0.6, 0.35, 0.7, 0.8])
    # J at 0.8: 1/3, 0.7: 2/3, 0.6: 1/3, 0.4: 0, 0.35: 1/3, 0.1: 0
    assert youden_threshold(y, p) == 0.7
    assert sensitivity_threshold(y, p, 0.9) == 0.35  # every positive needed: the lowest positive
    assert sensitivity_threshold(y, p, 0.6) == 0.7  # 2 of 3 positives suffice
    assert sensitivity_threshold(y, p, 2 / 3) == 0.7
    # J ties at 0.8 and 0.4 (both 1/2): the higher threshold
    assert youden_threshold(np.array([0, 1, 0, 1]), np.array([0.2, 0.4, 0.6, 0.8])) == 0.8
    assert youden_threshold(np.array([1, 1]), np.array([0.2, 0.4])) is None
    assert sensitivity_threshold(np.array([0, 0]), np.array([0.2, 0.4])) is None
    with pytest.raises(ValueError, match="target sensitivity"):
        sensitivity_threshold(y, p, 1.5)


def test_nested_thresholds_never_see_the_folds_own_slides():
    y = np.array([0, 1, 0, 1, 0, 1])
    p = np.array([0.3, 0.35, 0.6, 0.7, 0.6, 0.7])
    folds, patients = np.array([0, 0, 1, 1, 2, 2]), np.array([f"p{k}" for k in range(6)])
    assert youden_threshold(y[:2], p[:2]) == 0.35  # fold 0's own slides would give 0.35 (and sensitivity 1)
    point = operating_point(y, p, folds, patients, youden_threshold)
    assert point["fold_thresholds"] == {0: 0.7, 1: 0.7, 2: 0.7}  # each chosen on the other two folds
    assert point["sensitivity"] == pytest.approx(2 / 3) and point["specificity"] == 1.0  # fold 0's positive missed
    assert point["threshold"] == youden_threshold(y, p) and point["slides"] == 6

    seen = {}

    def spy(y_, p_):
        seen[len(seen)] = set(p_.round(6))
        return 0.5

    rng = np.random.default_rng(0)
    p = rng.random(30)
    folds = np.arange(30) % 5
    nested_thresholds(rng.random(30) > 0.5, p, folds, spy)
    for k, values in seen.items():
        assert values == set(p[folds != k].round(6)) and not values & set(p[folds == k].round(6))


def test_a_fold_without_a_threshold_is_left_out():
    y, p = np.array([1, 1, 0, 1]), np.array([0.9, 0.8, 0.2, 0.7])
    point = operating_point(y, p, np.array([0, 0, 1, 1]), np.arange(4), youden_threshold)
    assert point["fold_thresholds"] == {0: 0.7, 1: None}  # fold 1's other fold holds positives only
    assert point["slides"] == 2 and point["sensitivity"] == 1.0 and point["specificity"] is None


def test_calibration_intervals_cover_their_values():
    rng = np.random.default_rng(1)
    p = rng.random(60)
    y = rng.random(60) < p
    c = calibration(y, p, np.arange(60) // 2, bins=5)
    assert c["ece"] == pytest.approx(expected_calibration_error(y, p, 5))
    assert c["ece_ci"][0] <= c["ece_ci"][1] and c["brier_ci"][0] <= c["brier"] <= c["brier_ci"][1]
    for row in c["reliability"]:
        assert row["observed_ci"][0] <= row["observed"] <= row["observed_ci"][1]


def toy_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 15)
    p = np.clip(y * 0.5 + rng.random(30) * 0.5, 0, 1)
    return pd.DataFrame(
        {
            "slide_id": [f"s{k}" for k in range(30)],
            "patient_id": [f"p{k // 2}" for k in range(30)],
            "label": [CLASSES[i] for i in y],
            "fold": np.arange(30) // 2 % 3,
            "prob_normal": 1 - p,
            "prob_tumor": p,
        }
    )


def test_model_entry_and_report_hold_calibration_and_operating_points(monkeypatch):
    from slidesnake.evaluation import entries

    monkeypatch.setattr(
        entries, "grouped_interval", lambda statistic, groups: None
    )  # the AUC's: slow, tested elsewhere
    table = toy_table()
    entry = model_entry(table, CLASSES, {}, {}, target_sensitivity=0.8)
    y, p = (table["label"] == "tumor").to_numpy(), table["prob_tumor"].to_numpy()
    assert entry[CALIBRATION]["ece"] == pytest.approx(expected_calibration_error(y, p))
    assert entry[CALIBRATION]["brier"] == pytest.approx(brier_score(y, p))
    assert len(entry[CALIBRATION]["reliability"]) == 10
    points = entry[OPERATING_POINTS]
    assert points[YOUDEN]["threshold"] == youden_threshold(y, p)
    assert points[TARGET]["target"] == 0.8 and points[TARGET]["threshold"] == sensitivity_threshold(y, p, 0.8)
    assert set(points[TARGET]["fold_thresholds"]) == {0, 1, 2}
    assert points[YOUDEN]["sensitivity_ci"] is not None and points[YOUDEN]["specificity"] is not None
    report = json.loads(json.dumps({"task": "t", "models": {"abmil": entry}, "pu": None}))  # as evaluate writes it
    text = markdown_report(report)
    assert "| model | ECE | Brier score |" in text and "| abmil | Youden's J |" in text
    assert "| abmil | sensitivity >= 0.8 |" in text and f"| abmil | {entry[CALIBRATION]['ece']:.3f} [" in text
    assert "| 0.9-1.0 |" in text
    platt = entry[PLATT]
    assert platt["slides"] == len(table) and platt["before"]["ece"] == pytest.approx(expected_calibration_error(y, p))
    assert platt["cohort_params"] == pytest.approx(platt_fit(y, p))
    assert f"| abmil | {platt['before']['ece']:.3f} [" in text and "Platt scaling" in text


def test_platt_fit_hand_computed_and_recovered():
    # one positive at p 0.8 and one negative at 0.2 (logits +-log 4); Platt's targets are 2/3 and 1/3, so the fit
    # solves sigmoid(a log 4 + b) = 2/3 and sigmoid(-a log 4 + b) = 1/3: b = 0 and a log 4 = log 2, a = 0.5
    assert platt_fit(np.array([1, 0]), np.array([0.8, 0.2])) == pytest.approx((0.5, 0.0), abs=1e-9)
    assert platt_fit(np.array([1, 1]), np.array([0.8, 0.2])) is None
    rng = np.random.default_rng(0)  # outcomes drawn from sigmoid(2 logit(p) - 1): the fit recovers (2, -1)
    p = rng.uniform(0.02, 0.98, 20000)
    y = rng.random(20000) < platt_apply((2.0, -1.0), p)
    a, b = platt_fit(y, p)
    assert a == pytest.approx(2.0, abs=0.1) and b == pytest.approx(-1.0, abs=0.1)


def test_no_platt_map_is_fitted_on_its_own_fold():
    y = np.array([1, 0, 1, 0, 1, 1, 0])
    p = np.array([0.9, 0.1, 0.8, 0.2, 0.6, 0.7, 0.4])
    folds = np.array([0, 0, 1, 1, 2, 2, 2])
    calibrated, params = nested_platt(y, p, folds)
    # fold 1 (p 0.8, 0.2) gets the map of folds 0 and 2; fold 0's hand case (a = 0.5, b = 0) is checked above
    for k in (0, 1, 2):
        assert params[k] == pytest.approx(platt_fit(y[folds != k], p[folds != k]))
        assert calibrated[folds == k] == pytest.approx(platt_apply(params[k], p[folds == k]))
        flipped = np.where(folds == k, 1 - y, y)  # the fold's own labels change nothing of its calibration
        assert nested_platt(flipped, p, folds)[0][folds == k] == pytest.approx(calibrated[folds == k])
        assert not np.allclose(nested_platt(flipped, p, folds)[0][folds != k], calibrated[folds != k])
    one_class = nested_platt(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1]))
    assert np.isnan(one_class[0]).all() and one_class[1] == {0: None, 1: None}  # the other fold holds one class
    entry = platt_entry(y, p, folds, np.arange(len(y)))
    assert entry["after"]["ece"] == pytest.approx(expected_calibration_error(y, calibrated))
    assert entry["after"]["brier"] == pytest.approx(brier_score(y, calibrated))
