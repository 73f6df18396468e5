"""What to annotate next (slidesnake.review.active): the acquisition score and the greedy, diverse pick (the
learning curve against random picks is benchmarks/bench_active.py's, in README)."""

from __future__ import annotations

import numpy as np

from slidesnake.review.active import acquisition, select_regions, uncertainty


def test_uncertainty_peaks_at_the_threshold_and_disagreement_adds():
    probability = np.array([0.1, 0.3, 0.9])
    np.testing.assert_allclose(uncertainty(probability, 0.3), [1 - 0.2 / 0.7, 1.0, 1 - 0.6 / 0.7])
    agreeing = acquisition(probability, 0.3, mil_rank=np.array([1 / 3, 2 / 3, 1.0]))
    disagreeing = acquisition(probability, 0.3, mil_rank=np.array([1.0, 2 / 3, 1 / 3]))
    assert (agreeing <= uncertainty(probability, 0.3)).all() and disagreeing[0] > agreeing[0]


def test_the_pick_skips_labelled_tiles_and_spreads_over_kinds_of_tissue():
    rng = np.random.default_rng(0)
    kinds = np.repeat(np.eye(4) * 5, 10, axis=0) + rng.normal(0, 0.1, (40, 4))  # 4 kinds of tissue, 10 tiles each
    scores = {"a": np.where(np.arange(40) < 10, 1.0, 0.9), "b": np.full(40, 0.5)}
    labelled = {"a": np.arange(40) == 0, "b": np.zeros(40, bool)}
    picked = select_regions(scores, {"a": kinds, "b": kinds}, labelled, 4, diversity=1.0)
    assert len(picked) == 4 and ("a", 0) not in [(s, i) for s, i, _ in picked]
    assert len({i // 10 for _, i, _ in picked}) == 4  # one tile of each kind, not the four best of the first
    greedy = select_regions(scores, {"a": kinds, "b": kinds}, labelled, 4, diversity=0.0)
    assert {i // 10 for _, i, _ in greedy} == {0} and all(s == "a" for s, _, _ in greedy)
