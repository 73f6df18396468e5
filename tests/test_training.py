"""MIL models, training, splits and PU learning on small problems with known answers."""

import math

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from helpers import pu_params, train_params
from slidesnake.core.errors import ConfigError
from slidesnake.evaluation.splits import TEST, check_no_leakage, patient_folds
from slidesnake.mil.models import MIL_MODELS, build_mil_model, score_kinds
from slidesnake.mil.train import Bags, load_mil_checkpoint, predict, save_mil_checkpoint, train_fold
from slidesnake.pu.learner import (
    elkan_noto_prior,
    nnpu_risk,
    pnu_risk,
    sigmoid_loss,
    tile_probabilities,
    train_tile_classifier,
)


@pytest.mark.parametrize("name", sorted(MIL_MODELS))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_forward_shapes_and_scores(name, n_classes):
    torch.manual_seed(0)
    model = build_mil_model(name, 32, n_classes).eval()
    for n in (1, 7, 50):
        logits, scores = model(torch.randn(n, 32))
        assert logits.shape == (n_classes,) and set(scores) == set(score_kinds(name))
        assert all(values.shape == (n,) for values in scores.values())
    logits, scores, aux = model.train().forward_with_aux(torch.randn(20, 32), 1)
    assert (aux is not None) == (name == "clam_sb")
    if name in ("abmil", "clam_sb"):
        assert torch.allclose(scores["attention"].sum(), torch.tensor(1.0))


def test_tile_evidence_is_the_slide_logit_margin_of_each_tile():
    """For ABMIL the slide's logit margin is the attention-weighted sum of the tiles' evidence."""
    torch.manual_seed(0)
    model = build_mil_model("abmil", 16, 2).eval()
    bag = torch.randn(30, 16)
    logits, scores = model(bag)
    assert torch.allclose(logits[1] - logits[0], (scores["attention"] * scores["score"]).sum(), atol=1e-5)


def toy_bags(tmp_path, n_slides=24, seed=0, dim=16):
    """Positive bags hide a few 'tumor' instances shifted along one feature direction."""
    rng = np.random.default_rng(seed)
    paths, labels, truth = {}, {}, {}
    for i in range(n_slides):
        label = i % 2
        n = int(rng.integers(20, 40))
        x = rng.normal(0, 1, (n, dim)).astype(np.float32)
        hot = np.zeros(n, bool)
        if label:
            hot[rng.choice(n, 5, replace=False)] = True
            x[hot, 0] += 6.0
        path = tmp_path / f"s{i}.h5"
        with h5py.File(path, "w") as h5:
            h5["features"] = x
            h5["coords"] = np.stack([np.arange(n), np.zeros(n)], 1).astype(np.int64)
        paths[f"s{i}"], labels[f"s{i}"], truth[f"s{i}"] = path, label, hot
    return Bags(paths), labels, truth


@pytest.mark.parametrize("name", sorted(MIL_MODELS))
def test_learns_toy_bag_problem(tmp_path, name):
    bags, labels, truth = toy_bags(tmp_path)
    slides = list(labels)
    model, history = train_fold(
        name, bags, labels, slides[:18], slides[18:], 2, train_params(epochs=30, patience=30, lr=1e-3, seed=0)
    )
    assert history["train_loss"][-1] < history["train_loss"][0]
    probabilities, scores = predict(model, bags, slides, torch.device("cpu"))
    y = np.array([labels[s] for s in slides])
    assert probabilities[y == 1, 1].mean() > probabilities[y == 0, 1].mean() + 0.2
    if name == "abmil":  # attention and evidence go to the hidden positive instances
        for s in slides:
            if labels[s]:
                for values in scores[s].values():
                    assert values[truth[s]].mean() > values[~truth[s]].mean()


def test_a_model_learning_rate_replaces_the_shared_one(tmp_path, monkeypatch):
    seen, adamw = [], torch.optim.AdamW
    monkeypatch.setattr(
        torch.optim, "AdamW", lambda parameters, lr, **kw: seen.append(lr) or adamw(parameters, lr=lr, **kw)
    )
    bags, labels, _ = toy_bags(tmp_path)
    slides = list(labels)
    params = train_params(epochs=1, lr=1e-3, model_lr={"transmil": 2e-4})
    for name in ("abmil", "transmil"):
        train_fold(name, bags, labels, slides[:18], slides[18:], 2, params)
    assert seen == [1e-3, 2e-4]


def test_training_is_deterministic_and_checkpoint_round_trips(tmp_path):
    bags, labels, _ = toy_bags(tmp_path)
    slides = list(labels)
    params = train_params(epochs=5, seed=3)
    a, ha = train_fold("abmil", bags, labels, slides[:18], slides[18:], 2, params)
    b, hb = train_fold("abmil", bags, labels, slides[:18], slides[18:], 2, params)
    assert ha["train_loss"] == hb["train_loss"]
    save_mil_checkpoint(tmp_path / "m.pt", a, "abmil", 16, ["normal", "tumor"], params)
    loaded, meta = load_mil_checkpoint(tmp_path / "m.pt")
    assert meta["classes"] == ["normal", "tumor"]
    pa, _ = predict(a, bags, slides, torch.device("cpu"))
    pl, _ = predict(loaded, bags, slides, torch.device("cpu"))
    np.testing.assert_allclose(pa, pl, rtol=1e-6)


def test_tile_subsampling_caps_large_bags(tmp_path):
    bags, labels, _ = toy_bags(tmp_path)
    slides = list(labels)
    _, history = train_fold("mean_pool", bags, labels, slides[:18], slides[18:], 2, train_params(epochs=2, max_tiles=4))
    assert len(history["train_loss"]) == 2


def test_patient_splits_have_no_leakage():
    rng = np.random.default_rng(0)
    patients = [f"p{i // 2 if i < 20 else i}" for i in range(40)]  # ten patients with two slides
    labels = {p: rng.choice(["a", "b"]) for p in set(patients)}
    table = pd.DataFrame(
        {"slide_id": [f"s{i}" for i in range(40)], "patient_id": patients, "label": [labels[p] for p in patients]}
    )
    splits = patient_folds(table, 5, seed=1)
    check_no_leakage(splits)
    tests = [set(splits.loc[splits[f"fold{k}"] == TEST, "slide_id"]) for k in range(5)]
    assert set().union(*tests) == set(table["slide_id"]) and sum(map(len, tests)) == 40
    for k in range(5):
        assert {"train", "val", "test"} == set(splits[f"fold{k}"])
        for label in ("a", "b"):  # stratified: each test part holds both labels
            assert (splits.loc[splits[f"fold{k}"] == TEST, "label"] == label).any()
    assert splits.equals(patient_folds(table, 5, seed=1))
    leaky = splits.copy()
    leaky.loc[0, "fold0"], leaky.loc[1, "fold0"] = "train", "test"
    with pytest.raises(AssertionError, match="fold0"):
        check_no_leakage(leaky)
    with pytest.raises(ConfigError, match="training.folds.*at least 5 patients"):
        patient_folds(table.head(4).assign(patient_id=["a", "a", "b", "c"]), 5, 0)


def test_nnpu_risk_hand_computed():
    sp, su = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 1.0])
    s = torch.sigmoid
    positive = 0.3 * (s(torch.tensor(0.0)) + s(torch.tensor(-2.0))) / 2  # l(z,+1) = sigmoid(-z)
    negative = (s(torch.tensor(-1.0)) + s(torch.tensor(1.0))) / 2 - 0.3 * (
        s(torch.tensor(0.0)) + s(torch.tensor(2.0))
    ) / 2
    objective, risk = nnpu_risk(sp, su, 0.3, sigmoid_loss)
    assert risk.item() == pytest.approx((positive + negative).item(), abs=1e-6)
    assert objective.item() == pytest.approx(risk.item())
    # a non-negative negative part: the objective is the risk itself
    objective, _ = nnpu_risk(torch.tensor([-3.0]), torch.tensor([3.0]), 0.9, sigmoid_loss)
    neg = s(torch.tensor(3.0)) - 0.9 * s(torch.tensor(-3.0))  # l(z,-1) = sigmoid(z)
    assert neg.item() > 0 and objective.item() == pytest.approx((0.9 * s(torch.tensor(3.0)) + neg).item())
    # a negative part below zero: the objective is its negation (Kiryo et al., Algorithm 1)
    objective, risk = nnpu_risk(torch.tensor([5.0]), torch.tensor([-5.0]), 0.9, sigmoid_loss)
    neg = s(torch.tensor(-5.0)) - 0.9 * s(torch.tensor(5.0))
    assert neg.item() < 0 and objective.item() == pytest.approx(-neg.item())
    assert risk.item() == pytest.approx(0.9 * s(torch.tensor(-5.0)).item())  # the risk counts no negative part
    objective, risk = pnu_risk(sp, su, torch.tensor([-2.0]), 0.3, 0.0, sigmoid_loss)
    assert risk.item() == pytest.approx(
        (0.3 * (s(torch.tensor(0.0)) + s(torch.tensor(-2.0))) / 2 + 0.7 * s(torch.tensor(-2.0))).item(), abs=1e-6
    )
    # the logistic loss: l(z, +1) = log(1 + exp(-z))
    _, risk = nnpu_risk(torch.tensor([0.0]), torch.tensor([0.0]), 0.5)
    assert risk.item() == pytest.approx(0.5 * math.log(2) + (math.log(2) - 0.5 * math.log(2)))


def pu_toy(seed=0, n_pos=300, n_unl=1500, prior=0.3, dim=8, shift=2.5):
    rng = np.random.default_rng(seed)

    def sample(n, positive):
        x = rng.normal(0, 1, (n, dim))
        x[:, 0] += shift if positive else 0
        return x

    hidden = rng.random(n_unl) < prior
    u = np.where(hidden[:, None], sample(n_unl, True), sample(n_unl, False))
    return sample(n_pos, True), u, hidden


def test_elkan_noto_prior_estimate():
    """Accurate when positives are separable (the estimator's assumption); biased upward with overlap."""
    p, u, hidden = pu_toy(shift=6.0)
    assert elkan_noto_prior(p, u)["prior"] == pytest.approx(hidden.mean(), abs=0.05)
    p, u, hidden = pu_toy(shift=2.5)
    assert elkan_noto_prior(p, u)["prior"] > hidden.mean()


def test_nnpu_beats_naive_on_unlabeled_positives():
    from sklearn.metrics import roc_auc_score

    p, u, hidden = pu_toy(seed=1)
    params = pu_params(seed=0, min_steps=1000, weight_decay=0.01)  # little shrinkage: calibrated probabilities
    scores = {}
    for mode in ("nnpu", "naive"):
        model, scaler, _ = train_tile_classifier(p, u, None, 0.3, params, mode)
        scores[mode] = tile_probabilities(model, scaler, u)
    assert roc_auc_score(hidden, scores["nnpu"]) > 0.9
    # nnPU calls about a prior's share of U positive, and separates hidden positives from negatives by a
    # wider probability gap than the naive classifier, which learns them as negatives
    assert (scores["nnpu"] > 0.5).mean() == pytest.approx(hidden.mean(), abs=0.1)
    gap = {m: scores[m][hidden].mean() - scores[m][~hidden].mean() for m in scores}
    assert gap["nnpu"] > gap["naive"] + 0.05


def test_patient_level_aggregation():
    from slidesnake.evaluation.aggregation import patient_table

    slides = pd.DataFrame(
        {
            "slide_id": ["a", "b", "c"],
            "patient_id": ["p1", "p1", "p2"],
            "label": ["tumor", "tumor", "normal"],
            "prob_normal": [0.8, 0.2, 0.9],
            "prob_tumor": [0.2, 0.8, 0.1],
        }
    )
    table = patient_table(slides, ["normal", "tumor"]).set_index("patient_id")
    assert table.loc["p1", "prob_tumor"] == pytest.approx(0.5) and table.loc["p1", "n_slides"] == 2
    assert table.loc["p2", "prediction"] == "normal" and table.loc["p1", "label"] == "tumor"
    unlabelled = patient_table(slides.drop(columns="label"), ["normal", "tumor"])
    assert "label" not in unlabelled
