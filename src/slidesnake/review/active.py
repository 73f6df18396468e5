"""What to annotate next: tiles ranked by how much their label would help the PU tile classifier.

A tile's acquisition score is the mean of the measures at hand, each in [0, 1]: the PU classifier's uncertainty
(1 at the tumor-mask threshold, falling linearly to 0 at the probability farthest from it) and, where a MIL
model scores the slide too, the disagreement of the two (the difference of their within-slide ranks). The
regions of a round are picked greedily across slides: each next one maximises its score minus `diversity` times
its largest cosine similarity (of centred features) to the ones already picked, so that one kind of tissue does
not take the whole budget (review.regions_per_round).
"""

from __future__ import annotations

import numpy as np

from slidesnake.io.tile_scores import rank_within_slide

CANDIDATES_PER_SLIDE = 200  # the highest-scoring unlabelled tiles of each slide the greedy pick considers


def uncertainty(probability: np.ndarray, threshold: float) -> np.ndarray:
    """1 at `threshold`, 0 at the far end of [0, 1]."""
    spread = max(threshold, 1 - threshold)
    return 1 - np.abs(np.asarray(probability, np.float64) - threshold) / spread


def acquisition(probability: np.ndarray, threshold: float, mil_rank: np.ndarray | None = None) -> np.ndarray:
    """Per tile of one slide: PU uncertainty, averaged with the PU-vs-MIL rank disagreement when MIL scores it."""
    score = uncertainty(probability, threshold)
    if mil_rank is None:
        return score
    return 0.5 * (score + np.abs(rank_within_slide(probability) - np.asarray(mil_rank, np.float64)))


def select_regions(
    scores: dict[str, np.ndarray],
    features: dict[str, np.ndarray],
    labelled: dict[str, np.ndarray],
    budget: int,
    diversity: float,
) -> list[tuple[str, int, float]]:
    """(slide, tile index, acquisition score) of the `budget` tiles to label next, unlabelled tiles only."""
    pool_slides, pool_index, pool_score, pool_features = [], [], [], []
    for slide, score in scores.items():
        free = np.flatnonzero(~np.asarray(labelled[slide], bool))
        best = free[np.argsort(-score[free], kind="stable")[:CANDIDATES_PER_SLIDE]]
        pool_slides += [slide] * len(best)
        pool_index.append(best)
        pool_score.append(score[best])
        pool_features.append(np.asarray(features[slide], np.float64)[best])
    if not pool_slides:
        return []
    index, score = np.concatenate(pool_index), np.concatenate(pool_score)
    vectors = np.concatenate(pool_features)
    vectors = vectors - vectors.mean(0)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    similarity = np.full(len(score), -np.inf)
    chosen: list[int] = []
    for _ in range(min(budget, len(score))):
        value = score - diversity * np.maximum(similarity, 0)
        value[chosen] = -np.inf
        pick = int(np.argmax(value))
        chosen.append(pick)
        similarity = np.maximum(similarity, vectors @ vectors[pick])
    return [(pool_slides[k], int(index[k]), float(score[k])) for k in chosen]
