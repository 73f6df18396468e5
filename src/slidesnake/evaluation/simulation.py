"""Learning problems with known truth and tunable difficulty, at the level of tile features.

Tiles of a slide are drawn as x = mu + B z + s_slide + e: a fixed mean like the positive, offset features
of a CNN (mu), correlated tissue variation of low rank (B z), a per-slide offset shared by all its tiles
(stain and scanner: s_slide), optionally a per-site offset shared by a site's slides (staining batches)
and noise (e). In positive slides a share of the tiles (the witness rate)
are tumor: they carry `shift` along a direction confined to `signal_dims` of the `dim` feature
dimensions. The shift is set from a target "oracle" tile AUC, the AUC of the best linear tile classifier
trained on true tile labels, so difficulty is stated in the one number that says how much tile-level
signal exists. Partial annotations (PU learning) mark a share of the tumor tiles of positive slides.

These are the problems the MIL and PU trainers are tuned and tested on: the demo cohort is too easy to
tell a working learner from a broken one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm


@dataclass(frozen=True)
class TileProblem:
    """One simulated cohort's settings (slides, tiles, features, difficulty)."""

    n_slides: int = 100
    positive_share: float = 0.5  # share of slides that are positive (hold tumor tiles)
    tiles_per_slide: tuple[int, int] = (200, 600)
    dim: int = 512
    signal_dims: int = 8  # feature dimensions the tumor shift lives in
    witness_rate: float = 0.05  # share of tumor tiles in a positive slide
    oracle_auc: float = 0.9  # sets the shift: AUC of the best linear tile classifier on true labels
    rank: int = 16  # correlated tissue variation
    tissue_sd: float = 1.0  # of the low-rank variation, relative to the noise
    slide_sd: float = 0.5  # per-slide offsets (stain, scanner), relative to the noise
    sites: int = 1  # slide k belongs to site k % sites (independent of its label)
    site_sd: float = 0.0  # per-site offsets shared by a site's slides (staining batches), relative to the noise
    noise_sd: float = 0.6  # per-dimension noise (random-weight CNN features: about 0.6)
    annotated_fraction: float = 0.3  # PU: share of a positive slide's tumor tiles that are annotated
    seed: int = 0


@dataclass
class SimulatedCohort:
    features: dict[str, np.ndarray]  # slide -> tiles x dim, float32
    labels: dict[str, int]  # slide -> 1 positive, 0 negative
    tumor: dict[str, np.ndarray]  # slide -> bool per tile: truth
    annotated: dict[str, np.ndarray]  # slide -> bool per tile: annotated tumor (P), a subset of `tumor`
    shift: float  # length of the tumor shift vector
    signal: np.ndarray  # the tumor shift vector itself (dim)
    expected_oracle_auc: float
    problem: TileProblem = field(repr=False, default=None)
    site: dict[str, int] = field(default_factory=dict)  # slide -> its site

    def slides(self) -> list[str]:
        return list(self.features)

    def true_prior_of_unlabeled(self) -> float:
        """Tumor share among the unannotated tiles of positive slides (what PU learning must estimate)."""
        u = [self.tumor[s][~self.annotated[s]] for s in self.slides() if self.labels[s]]
        return float(np.concatenate(u).mean()) if u else 0.0


def linear_auc(separation: float) -> float:
    """AUC of a linear score whose classes differ by `separation` standard deviations (equal variances)."""
    return float(norm.cdf(separation / math.sqrt(2)))


def separation_for_auc(auc: float) -> float:
    return float(math.sqrt(2) * norm.ppf(auc))


def _loadings(problem: TileProblem, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0, problem.tissue_sd * problem.noise_sd / math.sqrt(problem.rank), (problem.dim, problem.rank))


def _direction(problem: TileProblem, rng: np.random.Generator) -> np.ndarray:
    direction = np.zeros(problem.dim)
    dims = rng.choice(problem.dim, problem.signal_dims, replace=False)
    direction[dims] = rng.choice([-1.0, 1.0], problem.signal_dims)
    return direction / np.linalg.norm(direction)


def pooled_separation(problem: TileProblem, loadings: np.ndarray, direction: np.ndarray) -> float:
    """Mahalanobis length of a unit shift along `direction` under the pooled tile covariance
    (loadings loadings^T + (noise^2 + slide^2 + site^2) I), by the Woodbury identity."""
    isotropic = problem.noise_sd**2 + problem.slide_sd**2 + problem.site_sd**2
    inner = np.eye(problem.rank) + loadings.T @ loadings / isotropic
    projected = loadings.T @ direction
    quadratic = direction @ direction / isotropic - projected @ np.linalg.solve(inner, projected) / isotropic**2
    return float(math.sqrt(quadratic))


def _draw_slide(
    problem: TileProblem, rng, mean, loadings, signal, witness: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """One slide's tile features and tumor truth: a `witness` share of its tiles (at least one; none for None)
    shifted by `signal`."""
    n = int(rng.integers(problem.tiles_per_slide[0], problem.tiles_per_slide[1] + 1))
    x = mean + (loadings @ rng.standard_normal((problem.rank, n))).T
    x += rng.normal(0, problem.slide_sd, problem.dim) + rng.normal(0, problem.noise_sd, (n, problem.dim))
    tumor = np.zeros(n, bool)
    if witness is not None:
        tumor[rng.choice(n, max(1, int(round(witness * n))), replace=False)] = True
        x[tumor] += signal
    return x, tumor


def simulate(problem: TileProblem) -> SimulatedCohort:
    """A cohort of slides with tile features, slide labels, tile truth and partial annotations."""
    rng = np.random.default_rng(problem.seed)
    mean = rng.normal(10.0, 1.0, problem.dim)
    loadings = _loadings(problem, rng)
    direction = _direction(problem, rng)
    shift = separation_for_auc(problem.oracle_auc) / pooled_separation(problem, loadings, direction)
    n_positive = int(round(problem.positive_share * problem.n_slides))
    labels = np.array([1] * n_positive + [0] * (problem.n_slides - n_positive))[rng.permutation(problem.n_slides)]
    cohort = SimulatedCohort({}, {}, {}, {}, shift, shift * direction, problem.oracle_auc, problem)
    site_offsets = np.random.default_rng([problem.seed, 7]).normal(0, problem.site_sd, (problem.sites, problem.dim))
    for index, label in enumerate(labels):
        slide = f"sim_{index:04d}"
        x, tumor = _draw_slide(problem, rng, mean, loadings, shift * direction, problem.witness_rate if label else None)
        cohort.site[slide] = index % problem.sites
        x += site_offsets[cohort.site[slide]]
        annotated = np.zeros(len(x), bool)
        if label and problem.annotated_fraction > 0:
            hits = np.flatnonzero(tumor)
            annotated[rng.choice(hits, max(1, int(round(problem.annotated_fraction * len(hits)))), replace=False)] = (
                True
            )
        cohort.features[slide] = x.astype(np.float32)
        cohort.labels[slide] = int(label)
        cohort.tumor[slide] = tumor
        cohort.annotated[slide] = annotated
    return cohort


def witness_rate_for_prior(prior: float, annotated_fraction: float) -> float:
    """The witness rate whose unannotated tiles of positive slides hold tumor at share `prior`."""
    return prior / (1 - annotated_fraction + prior * annotated_fraction)


@dataclass(frozen=True)
class EndpointProblem:
    """A survival or regression target that depends on each slide's witness share. Every slide holds tumor, at a
    share drawn uniformly from [0, 2 x tiles.witness_rate]; z is that share standardised over the cohort.
    Survival: event times exponential with hazard exp(log_hazard_ratio * z), censored by independent exponential
    times whose rate gives about `censoring` censored slides. Regression: value = z + noise of sd `value_noise_sd`
    (the oracle R² is 1 / (1 + value_noise_sd²))."""

    tiles: TileProblem = TileProblem()
    kind: str = "survival"
    log_hazard_ratio: float = 1.0  # per standard deviation of the witness share
    censoring: float = 0.3  # expected share of censored slides
    value_noise_sd: float = 0.5


@dataclass
class SimulatedEndpointCohort:
    features: dict[str, np.ndarray]  # slide -> tiles x dim
    tumor: dict[str, np.ndarray]  # slide -> bool per tile
    witness_share: dict[str, float]  # slide -> its true tumor share (what the oracle sees)
    targets: dict  # slide -> [time, event] (survival) or value (regression), as workflow.tasks gives them
    problem: EndpointProblem = field(repr=False, default=None)

    def slides(self) -> list[str]:
        return list(self.features)


def censoring_rate(hazards: np.ndarray, share: float) -> float:
    """Rate of exponential censoring times that censors about `share` of slides with these event hazards
    (P(C < T) = c / (c + h) per slide, solved for the mean by bisection)."""
    if share <= 0:
        return 0.0
    low, high = 0.0, 1e3 * float(hazards.max())
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if np.mean(middle / (middle + hazards)) < share else (low, middle)
    return (low + high) / 2


def simulate_endpoint(problem: EndpointProblem) -> SimulatedEndpointCohort:
    """A cohort whose survival times or values follow each slide's witness share."""
    tiles = problem.tiles
    rng = np.random.default_rng(tiles.seed)
    mean = rng.normal(10.0, 1.0, tiles.dim)
    loadings = _loadings(tiles, rng)
    direction = _direction(tiles, rng)
    shift = separation_for_auc(tiles.oracle_auc) / pooled_separation(tiles, loadings, direction)
    cohort = SimulatedEndpointCohort({}, {}, {}, {}, problem)
    for index in range(tiles.n_slides):
        slide = f"sim_{index:04d}"
        x, tumor = _draw_slide(tiles, rng, mean, loadings, shift * direction, rng.uniform(0, 2 * tiles.witness_rate))
        cohort.features[slide], cohort.tumor[slide] = x.astype(np.float32), tumor
        cohort.witness_share[slide] = float(tumor.mean())
    share = np.array(list(cohort.witness_share.values()))
    z = (share - share.mean()) / (share.std() or 1.0)
    if problem.kind == "survival":
        hazards = np.exp(problem.log_hazard_ratio * z)
        times = rng.exponential(1 / hazards)
        rate = censoring_rate(hazards, problem.censoring)
        censor = rng.exponential(1 / rate, len(z)) if rate > 0 else np.full(len(z), np.inf)
        for slide, t, c in zip(cohort.features, times, censor, strict=True):
            cohort.targets[slide] = [float(min(t, c)), int(t <= c)]
    else:
        values = z + rng.normal(0, problem.value_noise_sd, len(z))
        cohort.targets = {slide: float(v) for slide, v in zip(cohort.features, values, strict=True)}
    return cohort
