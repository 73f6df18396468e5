"""The real-tissue testbed (pool of real H&E tiles, cohorts assembled from it), tumor masks from tile
probabilities, and instance supervision of MIL."""

import numpy as np
import pytest
import torch

from helpers import SHARED_DATA, require_shared_data, train_params
from slidesnake.core.labels import TRUTH_TUMOR_SHARE
from slidesnake.demo.real_tissue import (
    TILE_PX,
    CohortSpec,
    PoolSpec,
    TilePool,
    assemble_cohort,
    lab_statistics,
    load_sources,
    render_pool_tiles,
)
from slidesnake.evaluation.metrics import mask_overlap
from slidesnake.mil.train import Bags, instance_loss, instance_targets, predict, train_fold
from slidesnake.pu.masks import MASK_UPSAMPLE, dice_threshold, mask_threshold, tumor_mask_image


def fake_pool(sites=2, dim=16, per_kind=40, seed=0) -> TilePool:
    """Benign features near 0, tumor near 3 in the first dimension, mixed tiles in between."""
    rng = np.random.default_rng(seed)
    shares = np.concatenate([np.zeros(per_kind), np.ones(per_kind), rng.uniform(0.1, 0.9, per_kind)])
    features, site, share = [], [], []
    for s in range(sites):
        x = rng.normal(0, 1, (len(shares), dim)).astype(np.float32)
        x[:, 0] += 3 * shares
        features.append(x)
        site.append(np.full(len(shares), s))
        share.append(shares)
    return TilePool(
        np.concatenate(features),
        np.concatenate(site),
        np.concatenate(share).astype(np.float32),
        "fake",
        PoolSpec(sites=sites),
    )


def test_assembled_cohort_truth_follows_the_layout():
    pool = fake_pool()
    cohort = assemble_cohort(pool, CohortSpec(n_slides=12, slide_px=4096, tumor_fraction=(0.1, 0.25), seed=4))
    assert sorted(cohort.labels.values()) == [0] * 6 + [1] * 6
    for slide in cohort.slides():
        share, tumor, annotated = cohort.tumor_share[slide], cohort.tumor[slide], cohort.annotated[slide]
        assert cohort.features[slide].shape == (len(share), 16) and cohort.coords[slide].shape == (len(share), 2)
        assert np.array_equal(tumor, share >= TRUTH_TUMOR_SHARE) and not (annotated & ~tumor).any()
        assert (pool.site[np.isin(pool.features[:, 1], cohort.features[slide][:, 1])] == cohort.site[slide]).all()
        assert np.all(cohort.coords[slide] % TILE_PX == 0)
        if cohort.labels[slide]:
            assert 0.02 < tumor.mean() < 0.45 and annotated.sum() < tumor.sum()
        else:
            assert not tumor.any() and not annotated.any() and share.max() == 0
    assert sum(cohort.annotated[s].sum() for s in cohort.slides()) > 0
    assert 0 < cohort.true_prior_of_unlabeled() < 0.4
    again = assemble_cohort(pool, CohortSpec(n_slides=12, slide_px=4096, tumor_fraction=(0.1, 0.25), seed=4))
    assert all(np.array_equal(again.features[s], cohort.features[s]) for s in cohort.slides())


def test_real_tissue_sources_are_colour_matched_and_tiles_have_known_tumor_share():
    require_shared_data()
    sources = load_sources(SHARED_DATA)
    means = [lab_statistics(s.rgb, s.tissue)[0] for s in sources.values()]
    assert np.abs(means[0] - means[1]).max() < 2.0  # LAB units: the mean colour gives the label away no more
    tiles, sites, shares = render_pool_tiles(sources, PoolSpec(sites=2, benign=3, tumor=3, mixed=4))
    assert tiles.shape == (20, TILE_PX, TILE_PX, 3) and tiles.dtype == np.uint8
    assert list(np.bincount(sites)) == [10, 10]
    mixed = shares[(shares > 0) & (shares < 1)]
    assert len(mixed) == 8 and np.all((mixed > 0.05) & (mixed < 0.95))
    assert (tiles.reshape(20, -1).mean(1) < 235).all()  # crops are tissue, not glass


def test_mask_threshold_calls_the_prior_share_of_unlabeled_tiles():
    u = np.linspace(0, 1, 1001)
    assert mask_threshold(u, 0.1) == pytest.approx(0.9)
    assert (u >= mask_threshold(u, 0.25)).mean() == pytest.approx(0.25, abs=0.002)
    assert mask_threshold(u, 0.0) == 1.0


def test_mask_overlap_against_hand_counts():
    predicted = np.array([1, 1, 0, 0, 1], bool)
    truth = np.array([1, 0, 0, 1, 1], bool)
    overlap = mask_overlap(predicted, truth)
    assert overlap["dice"] == pytest.approx(2 * 2 / 6) and overlap["iou"] == pytest.approx(2 / 4)
    assert mask_overlap(np.zeros(3, bool), np.zeros(3, bool)) == {"dice": 1.0, "iou": 1.0}


def test_instance_targets_and_loss():
    targets = instance_targets(np.array([True, False, True]), positive_slide=True)
    assert targets[0] == 1 and np.isnan(targets[1]) and targets[2] == 1
    assert np.array_equal(instance_targets(np.array([False, False]), positive_slide=False), [0, 0])
    evidence = torch.tensor([2.0, -5.0, 0.0])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor([2.0, 0.0]), torch.ones(2))
    assert instance_loss(evidence, torch.from_numpy(targets)) == pytest.approx(float(expected))
    assert instance_loss(evidence, torch.full((3,), float("nan"))) is None


def test_instance_supervision_trains_the_evidence_on_annotated_tiles():
    """Positive slides hold 8 tumor tiles (shifted in dimension 0 of 8); with 4 of them annotated per positive
    slide, ABMIL's evidence ranks the held-out slides' tumor tiles near the oracle (AUC about 0.98), and not
    worse than with slide labels alone."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    features, labels, tumor = {}, {}, {}
    for k in range(32):
        x = rng.normal(0, 1, (60, 8)).astype(np.float32)
        t = np.zeros(60, bool)
        t[:8] = bool(k % 2)
        x[t, 0] += 3
        features[f"s{k}"], labels[f"s{k}"], tumor[f"s{k}"] = x, k % 2, t
    bags, slides = Bags.in_memory(features), list(features)
    targets = {s: instance_targets(tumor[s] & (np.arange(60) < 4), bool(labels[s])) for s in slides}
    auc = {}
    for weight in (0.0, 1.0):
        model, _ = train_fold(
            "abmil",
            bags,
            labels,
            slides[:24],
            [],
            2,
            train_params(epochs=10, instance_weight=weight, seed=1),
            instance_labels=targets,
        )
        _, scores = predict(model, bags, slides[24:], torch.device("cpu"))
        auc[weight] = np.mean([roc_auc_score(tumor[s], scores[s]["score"]) for s in slides[24:] if labels[s]])
    assert auc[1.0] > 0.93 and auc[1.0] >= auc[0.0] - 0.01


def test_tumor_mask_image_paints_the_tile_grid():
    coords = np.array([[0, 0], [512, 0], [512, 512]])
    image, downsample = tumor_mask_image(coords, 512.0, (1100, 1030), np.array([False, True, True]))
    assert downsample == 512 / MASK_UPSAMPLE and image.shape == (9, 9)
    cell = MASK_UPSAMPLE
    assert (image[:cell, :cell] == 1).all() and (image[:cell, cell : 2 * cell] == 2).all()
    assert (image[cell : 2 * cell, cell : 2 * cell] == 2).all() and (image[cell : 2 * cell, :cell] == 0).all()


def test_dice_threshold_balances_recall_and_false_positives_at_the_prior():
    """Positives above 0.6, negatives below 0.4: any cut in between is perfect; with overlapping scores the
    cut moves up as the prior falls (false positives weigh more)."""
    positives, negatives = np.linspace(0.6, 1.0, 50), np.linspace(0.0, 0.4, 500)
    assert 0.4 < dice_threshold(positives, negatives, 0.1) <= 0.6
    rng = np.random.default_rng(0)
    positives, negatives = rng.normal(0.7, 0.1, 2000).clip(0, 1), rng.normal(0.4, 0.1, 20000).clip(0, 1)
    assert dice_threshold(positives, negatives, 0.02) > dice_threshold(positives, negatives, 0.3)
