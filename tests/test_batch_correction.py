"""Batch-effect remedies before MIL (training.batch_correction): what each computes, that site statistics come from
training slides only, that checkpoints carry them to new slides, and the named error for a slide without a site."""

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import site_sheet_inputs
from slidesnake.core.errors import SiteError
from slidesnake.core.labels import SITE_COLUMN
from slidesnake.evaluation.calibration import TARGET, YOUDEN
from slidesnake.evaluation.splits import TEST, TRAIN, VALIDATION
from slidesnake.io.predictions import called_column
from slidesnake.jobs.deploy_predictions import operating_calls, site_bags
from slidesnake.jobs.train_mil import fold_bags
from slidesnake.mil.correction import GradientReversal, SiteStandardisation, correct_bag
from slidesnake.mil.models import build_mil_model
from slidesnake.mil.names import BATCH_CORRECTIONS, NO_CORRECTION
from slidesnake.mil.params import TrainParams
from slidesnake.mil.train import Bags, load_mil_checkpoint, predict, save_mil_checkpoint, train_fold
from slidesnake.workflow.config import default_params, load_schema


def site_cohort(seed: int = 0):
    """12 slides of 3 sites, each site's tiles offset by 3 x its index; labels alternate."""
    rng = np.random.default_rng(seed)
    features = {f"s{i}": rng.normal(size=(20, 4)).astype(np.float32) + 3 * (i % 3) for i in range(12)}
    sites = {s: f"site{i % 3}" for i, s in enumerate(features)}
    labels = {s: i % 2 for i, s in enumerate(features)}
    return features, sites, labels


def test_the_schema_offers_exactly_the_corrections_the_code_has():
    schema = load_schema("config")["properties"]["training"]["properties"]["batch_correction"]
    assert tuple(schema["enum"]) == BATCH_CORRECTIONS and schema["default"] == NO_CORRECTION


def test_per_bag_corrections_hand_computed():
    bag = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    torch.testing.assert_close(correct_bag(bag, "slide"), torch.tensor([[-1.0, -2.0], [1.0, 2.0]]))
    torch.testing.assert_close(
        correct_bag(bag, "slide_mean"), torch.tensor([[-1.0, -2.0, 2.0, 4.0], [1.0, 2.0, 2.0, 4.0]])
    )
    for unchanged in ("none", "site"):
        assert correct_bag(bag, unchanged) is bag
    model = build_mil_model("abmil", 2, 2, correction="slide_mean")
    assert model.mean.shape == (4,)  # the model sees the doubled dimension
    logits, scores = model(bag)
    assert logits.shape == (2,) and scores["score"].shape == (2,)


def test_site_statistics_come_from_the_training_slides_only():
    features, sites, _ = site_cohort()
    bags = Bags.in_memory(features)
    train = [s for s in features if int(s[1:]) < 9]
    fitted = SiteStandardisation.fit(bags, train, sites)
    site0 = np.concatenate([features[s] for s in train if sites[s] == "site0"])
    np.testing.assert_allclose(fitted.statistics["site0"][0].numpy(), site0.mean(0), atol=1e-6)
    np.testing.assert_allclose(fitted.statistics["site0"][1].numpy(), site0.std(0), rtol=1e-4)
    # a test slide's features do not move the statistics of its (seen) site
    moved = Bags.in_memory({**features, "s9": features["s9"] + 100})
    again = SiteStandardisation.fit(moved, train, sites).covering(moved, ["s9"], sites)
    torch.testing.assert_close(again.statistics["site0"][0], fitted.statistics["site0"][0])
    standardised = again.apply(moved, sites)
    assert standardised["s0"][0].mean().abs() < 1.0 and standardised["s9"][0].mean() > 50  # s9 keeps its shift


def test_an_unseen_site_is_standardised_with_its_own_slides(caplog):
    features, sites, _ = site_cohort()
    bags = Bags.in_memory(features)
    train = [s for s in features if sites[s] != "site2"]
    test = [s for s in features if sites[s] == "site2"]
    fitted = SiteStandardisation.fit(bags, train, sites)
    assert "site2" not in fitted.statistics
    covering = fitted.covering(bags, test, sites)
    assert "site2 has no training slides" in caplog.text
    own = np.concatenate([features[s] for s in test])
    np.testing.assert_allclose(covering.statistics["site2"][0].numpy(), own.mean(0), atol=1e-6)
    assert covering.trained == {"site0", "site1"}  # a checkpoint keeps only the training sites (record)
    assert set(SiteStandardisation.from_record(covering.record()).statistics) == {"site0", "site1"}


def test_a_slide_without_a_site_is_named():
    features, sites, _ = site_cohort()
    with pytest.raises(ValueError, match="slide s4 has no site"):
        SiteStandardisation.fit(Bags.in_memory(features), list(features), {**sites, "s4": None})


@pytest.mark.parametrize("correction", BATCH_CORRECTIONS)
def test_every_correction_trains_and_its_checkpoint_predicts_new_slides_the_same(tmp_path, correction):
    features, sites, labels = site_cohort()
    slides = list(features)
    train, new = slides[:9], slides[9:]
    params = default_params(TrainParams, "training", epochs=2, batch_correction=correction)
    raw = Bags.in_memory(features)
    bags, fitted = raw, None
    if correction == "site":
        fitted = SiteStandardisation.fit(raw, train, sites)
        bags = fitted.covering(raw, new, sites).apply(raw, sites)
    model, _ = train_fold("abmil", bags, labels, train, [], 2, params)
    expected, _ = predict(model, bags, new, torch.device("cpu"))
    save_mil_checkpoint(tmp_path / "m.pt", model, "abmil", 4, ["a", "b"], params, site_standardisation=fitted)
    loaded, checkpoint = load_mil_checkpoint(tmp_path / "m.pt")
    assert loaded.correction == correction
    got, _ = predict(loaded, site_bags(Bags.in_memory(features), checkpoint, new, sites), new, torch.device("cpu"))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_new_slides_are_called_at_the_out_of_fold_thresholds():
    # out of fold: positives at 0.9, 0.8, 0.4; negatives at 0.5, 0.2. Youden's J is highest at 0.8 (sensitivity
    # 2/3, specificity 1: J 0.667; at 0.4: 1 + 0.5 - 1 = 0.5); sensitivity >= 0.9 needs 0.4.
    oof = pd.DataFrame({"label": ["t", "t", "t", "n", "n"], "prob_t": [0.9, 0.8, 0.4, 0.5, 0.2]})
    calls = operating_calls(oof, "t", np.array([0.85, 0.6, 0.3]))
    assert {k: v.tolist() for k, v in calls.items()} == {
        called_column("t", YOUDEN): [1, 0, 0],
        called_column("t", TARGET): [1, 1, 0],
    }
    assert operating_calls(oof.assign(label="t"), "t", np.array([0.5])).keys() == {called_column("t", TARGET)}


def test_site_correction_needs_a_site_for_every_slide_of_the_users_sheet(tmp_path):
    sheet, inputs = site_sheet_inputs(tmp_path, ["A", "A", "", "B"], {"batch_correction": "site", "folds": 2})
    with pytest.raises(
        SiteError,
        match=rf"{sheet}, row 3, column 'site': slide 's2' has no site, and "
        r"training.batch_correction: site needs one",
    ):
        inputs.sites("train", "tumor", {})


def test_a_folds_site_statistics_leave_its_test_slides_out():
    """train_mil.fold_bags: the statistics of seen sites come from the fold's training and validation slides; the
    held-out site's from its own test slides; the checkpoint keeps only the former."""
    features, sites, _ = site_cohort()
    splits = pd.DataFrame({"slide_id": list(features), SITE_COLUMN: [sites[s] for s in features]})
    parts = {
        TRAIN: [s for s in features if sites[s] == "site0"],
        VALIDATION: [s for s in features if sites[s] == "site1"],
        TEST: [s for s in features if sites[s] == "site2"],
    }
    moved = {**features, **{s: features[s] + 50 for s in parts[TEST]}}  # the test site's offset
    params = default_params(TrainParams, "training", batch_correction="site")
    bags, fitted = fold_bags(Bags.in_memory(moved), params, splits, parts)
    assert fitted.trained == {"site0", "site1"} and set(fitted.statistics) == {"site0", "site1"}
    for slide in features:
        assert abs(float(bags[slide][0].mean())) < 1.0  # every site centred, the unseen one on its own slides
    unchanged, none = fold_bags(Bags.in_memory(moved), default_params(TrainParams, "training"), splits, parts)
    assert none is None and float(unchanged[parts[TEST][0]][0].mean()) > 40


def test_gradient_reversal_negates_the_gradient():
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    (GradientReversal.apply(x) * torch.tensor([3.0, 4.0])).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([-3.0, -4.0]))


def test_the_site_adversary_trains_beside_the_model_and_leaves_no_trace(caplog):
    features, sites, labels = site_cohort()
    slides = list(features)
    bags = Bags.in_memory(features)
    params = default_params(TrainParams, "training", epochs=3, site_adversary=1.0)
    plain, _ = train_fold("abmil", bags, labels, slides[:9], [], 2, default_params(TrainParams, "training", epochs=3))
    model, history = train_fold("abmil", bags, labels, slides[:9], [], 2, params, sites=sites)
    assert not model.inner.embed._forward_hooks  # the hook is gone: predictions never see the adversary
    a, _ = predict(plain, bags, slides[9:], torch.device("cpu"))
    b, _ = predict(model, bags, slides[9:], torch.device("cpu"))
    assert not np.allclose(a, b) and np.isfinite(history["train_loss"]).all()
    one_site = {s: "A" for s in slides}
    train_fold("abmil", bags, labels, slides[:9], [], 2, params, sites=one_site)
    assert "come from one site; no adversary" in caplog.text
    with pytest.raises(ValueError, match="has no site"):
        train_fold("abmil", bags, labels, slides[:9], [], 2, params, sites={})
