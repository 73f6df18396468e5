"""Learners on simulated problems whose truth and difficulty are known: the simulator itself, nnPU against
the naive baseline, MIL training choices, and bootstrap intervals."""

import numpy as np
import pytest
import torch
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from helpers import pu_params, train_params
from slidesnake.evaluation.metrics import bootstrap_interval, grouped_auc_interval, mean_interval
from slidesnake.evaluation.simulation import (
    TileProblem,
    linear_auc,
    separation_for_auc,
    simulate,
    witness_rate_for_prior,
)
from slidesnake.mil.train import Bags, can_stop_early, predict, train_fold, training_bag
from slidesnake.pu.learner import tile_probabilities, train_tile_classifier

SMALL = dict(dim=64, signal_dims=4, rank=8, tiles_per_slide=(150, 250))


def test_simulator_truth():
    problem = TileProblem(n_slides=20, witness_rate=0.1, annotated_fraction=0.25, seed=3, **SMALL)
    cohort = simulate(problem)
    assert sum(cohort.labels.values()) == 10 and len(cohort.slides()) == 20
    for slide in cohort.slides():
        tumor, annotated = cohort.tumor[slide], cohort.annotated[slide]
        assert cohort.features[slide].shape == (len(tumor), 64)
        if cohort.labels[slide]:
            assert tumor.mean() == pytest.approx(0.1, abs=0.01) and annotated.sum() == round(0.25 * tumor.sum())
            assert not (annotated & ~tumor).any()
        else:
            assert not tumor.any() and not annotated.any()
    assert simulate(problem).features["sim_0003"].tobytes() == cohort.features["sim_0003"].tobytes()
    # the unannotated tiles of positive slides hold tumor at the share witness_rate_for_prior promises
    rate = witness_rate_for_prior(0.1, 0.25)
    assert (rate * 0.75) / (1 - rate * 0.25) == pytest.approx(0.1)


def test_simulator_difficulty_is_the_oracle_auc():
    """The best linear tile score (the true shift, whitened by the pooled covariance of the tiles) reaches
    the AUC the problem asks for."""
    for target in (0.8, 0.95):
        cohort = simulate(TileProblem(n_slides=200, witness_rate=0.2, oracle_auc=target, seed=1, **SMALL))
        x = np.concatenate([cohort.features[s] for s in cohort.slides()])
        y = np.concatenate([cohort.tumor[s] for s in cohort.slides()])
        score = x @ np.linalg.solve(np.cov(x[~y], rowvar=False), cohort.signal)
        assert roc_auc_score(y, score) == pytest.approx(target, abs=0.02)
    assert linear_auc(separation_for_auc(0.9)) == pytest.approx(0.9)


@pytest.mark.slow
@pytest.mark.parametrize("prior", [0.05, 0.2])
def test_nnpu_is_not_worse_than_naive_with_the_right_prior(prior):
    """Tile AUC on held-out slides, summed over three cohorts: nnPU / PNU >= the naive baseline."""
    nnpu, naive = [], []
    for seed in (1, 2, 3):
        cohort = simulate(
            TileProblem(
                n_slides=24,
                witness_rate=witness_rate_for_prior(prior, 0.3),
                annotated_fraction=0.3,
                oracle_auc=0.95,
                seed=seed,
                **SMALL,
            )
        )
        train, test = cohort.slides()[:18], cohort.slides()[18:]
        p = np.concatenate([cohort.features[s][cohort.annotated[s]] for s in train if cohort.labels[s]])
        u = np.concatenate([cohort.features[s][~cohort.annotated[s]] for s in train if cohort.labels[s]])
        n = np.concatenate([cohort.features[s] for s in train if not cohort.labels[s]])
        true_prior = np.concatenate([cohort.tumor[s][~cohort.annotated[s]] for s in train if cohort.labels[s]]).mean()
        x = np.concatenate([cohort.features[s] for s in test])
        y = np.concatenate([cohort.tumor[s] for s in test])
        for mode, out in (("nnpu", nnpu), ("naive", naive)):
            model, scaler, history = train_tile_classifier(p, u, n, true_prior, pu_params(min_steps=1500), mode)
            out.append(roc_auc_score(y, tile_probabilities(model, scaler, x)))
    assert np.mean(nnpu) >= np.mean(naive) - 0.005, (nnpu, naive)
    assert np.mean(nnpu) > 0.75


def test_pu_step_budget_and_model_selection():
    cohort = simulate(TileProblem(n_slides=20, witness_rate=0.25, annotated_fraction=0.9, seed=2, **SMALL))
    p = np.concatenate([cohort.features[s][cohort.annotated[s]] for s in cohort.slides() if cohort.labels[s]])
    u = np.concatenate([cohort.features[s][~cohort.annotated[s]] for s in cohort.slides() if cohort.labels[s]])
    _, _, few = train_tile_classifier(p[:40], u, None, 0.05, pu_params(min_steps=500), "nnpu")
    assert not few["model_selection"] and few["steps"] == 500 and few["selected_step"] == 500
    _, _, many = train_tile_classifier(p, u, None, 0.05, pu_params(min_steps=500, eval_every=50), "nnpu")
    assert many["model_selection"] and many["step"] and many["selected_step"] <= many["step"][-1]


def simulated_bags(n_slides, seed, **changes):
    cohort = simulate(TileProblem(n_slides=n_slides, seed=seed, **{**SMALL, **changes}))
    return cohort, Bags.in_memory(cohort.features)


@pytest.mark.slow
def test_abmil_learns_a_weak_witness_signal():
    """100 bags, 10% witnesses, oracle tile AUC 0.95: ABMIL separates slides out of sample and its tile
    evidence points at the witnesses."""
    cohort, bags = simulated_bags(100, 4, witness_rate=0.1, oracle_auc=0.95, slide_sd=0.0)
    slides = cohort.slides()
    model, history = train_fold(
        "abmil", bags, cohort.labels, slides[:70], slides[70:80], 2, train_params(epochs=25, max_tiles=128)
    )
    assert not history["early_stopping"]  # 10 validation slides are too few to stop on
    test = slides[80:]
    probabilities, scores = predict(model, bags, test, torch.device("cpu"))
    assert roc_auc_score([cohort.labels[s] for s in test], probabilities[:, 1]) > 0.85
    localisation = [roc_auc_score(cohort.tumor[s], scores[s]["score"]) for s in test if cohort.labels[s]]
    assert np.mean(localisation) > 0.75


def test_early_stopping_needs_enough_validation_slides_of_every_class():
    labels = {f"s{i}": i % 2 for i in range(40)}
    params = train_params(min_validation_slides=12)
    assert can_stop_early([f"s{i}" for i in range(12)], labels, 2, params)
    assert not can_stop_early([f"s{i}" for i in range(11)], labels, 2, params)
    assert not can_stop_early([f"s{i}" for i in range(0, 24, 2)], labels, 2, params)  # one class only


def test_training_views_of_a_bag():
    generator = np.random.default_rng(0)
    bag = torch.arange(100.0)[:, None]
    assert len(training_bag(bag, train_params(max_tiles=40, tile_dropout=0.0), generator)) == 40
    view = training_bag(bag, train_params(max_tiles=1000, tile_dropout=0.5), generator)
    assert len(view) == 50 and torch.all(view[1:, 0] > view[:-1, 0])  # a sorted subset
    assert len(training_bag(bag[:1], train_params(tile_dropout=0.9), generator)) == 1


def binormal_scores(n_patients, auc, rng):
    """Slides of patients (1-3 each), labels at random, scores binormal with the given AUC."""
    patients = np.repeat(np.arange(n_patients), rng.integers(1, 4, n_patients))
    y = rng.random(len(patients)) < 0.5
    scores = rng.normal(0, 1, len(y)) + y * separation_for_auc(auc)
    return y, scores, patients


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_truth():
    """On a known case the patient-level interval holds the true AUC, and over repeated cohorts it holds
    it about as often as promised."""
    rng = np.random.default_rng(0)
    y, scores, patients = binormal_scores(60, 0.8, rng)
    low, high = grouped_auc_interval(y, scores, patients)
    assert low < 0.8 < high and low < roc_auc_score(y, scores) < high and high - low < 0.3
    covered = 0
    for _ in range(40):
        y, scores, patients = binormal_scores(60, 0.8, rng)
        low, high = grouped_auc_interval(y, scores, patients, samples=300)
        covered += low <= 0.8 <= high
    assert covered / 40 >= 0.85
    assert mean_interval([0.7, 0.8, 0.9, 0.75])[0] < 0.79 < mean_interval([0.7, 0.8, 0.9, 0.75])[1]
    assert bootstrap_interval(lambda chosen: None, [1, 2, 3]) is None
    assert norm.cdf(0) == 0.5


def test_numpy_metrics_equal_sklearn_on_ties_and_several_classes():
    """The plain-numpy AUC, balanced accuracy and F1 that the bootstrap calls thousands of times give
    sklearn's values, ties and absent predicted classes included; AUC is undefined with one class."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from slidesnake.evaluation.metrics import binary_auc, classification_metrics

    rng = np.random.default_rng(3)
    for n_classes in (2, 3, 4):
        labels = rng.integers(n_classes, size=41)
        probabilities = rng.dirichlet(np.ones(n_classes), size=41).round(1)  # rounding makes ties
        probabilities[:, -1] = 1 - probabilities[:, :-1].sum(1)
        probabilities[:5, 0] = 1.5  # argmax class 0 for a few, so class counts differ from the labels'
        ours = classification_metrics(labels, probabilities)
        predictions = probabilities.argmax(1)
        assert ours["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, predictions))
        average = "binary" if n_classes == 2 else "macro"
        assert ours["f1"] == pytest.approx(f1_score(labels, predictions, average=average, zero_division=0))
        if n_classes == 2:
            assert ours["auc"] == pytest.approx(roc_auc_score(labels, probabilities[:, 1]))
        else:
            per_class = [roc_auc_score(labels == c, probabilities[:, c]) for c in range(n_classes)]
            assert ours["auc"] == pytest.approx(np.mean(per_class))
    assert binary_auc(np.ones(4), np.arange(4)) is None
    assert binary_auc([0, 0, 1, 1], [0.2, 0.5, 0.5, 0.9]) == pytest.approx(0.875)  # the tie counts half
    assert classification_metrics(np.array([0, 0, 1]), np.eye(3)[[0, 1, 1]])["auc"] is None  # class 2 absent
