"""Batch-effect remedies on tile features before MIL (`training.batch_correction`).

- `site`: each site's tiles standardised with the per-dimension mean and sd of that site's tiles. A site with
  training slides takes its statistics from those slides only; a site without any (a new hospital, or the test
  site of site-preserved folds) takes them from its own slides being predicted: label-free (only their
  features are read, never a label), and logged as such.
- `slide`: each slide's tiles centred on the slide's own mean tile (label-free, per bag).
- `slide_mean`: the centred tiles with the slide's mean tile beside them as a second block of dimensions, so
  the model can still use what the mean carries.

The per-bag remedies live in the model (mil.models.Standardized applies correct_bag), so new slides get them
from the checkpoint; the site statistics are part of the checkpoint (SiteStandardisation.record).
"""

from __future__ import annotations

import logging

import torch

from slidesnake.mil.names import SLIDE_CORRECTION, SLIDE_MEAN_CORRECTION

log = logging.getLogger(__name__)

PER_BAG = (SLIDE_CORRECTION, SLIDE_MEAN_CORRECTION)  # the remedies applied inside the model, to one bag at a time


def corrected_dim(correction: str, dim: int) -> int:
    """Feature dimension the MIL model sees after `correction` (slide_mean doubles it)."""
    return 2 * dim if correction == SLIDE_MEAN_CORRECTION else dim


def correct_bag(bag: torch.Tensor, correction: str) -> torch.Tensor:
    """One bag (tiles x dim) after a per-bag remedy (PER_BAG); other corrections leave it as it is."""
    if correction not in PER_BAG or len(bag) == 0:
        return bag
    mean = bag.mean(0, keepdim=True)
    if correction == SLIDE_CORRECTION:
        return bag - mean
    return torch.cat([bag - mean, mean.expand_as(bag)], 1)


class SiteStandardisation:
    """Per-site (mean, sd) of the tile features, and which sites' statistics came from training slides."""

    def __init__(self, statistics: dict[str, tuple[torch.Tensor, torch.Tensor]], trained: set[str]):
        self.statistics, self.trained = statistics, set(trained)

    @classmethod
    def fit(cls, bags, slides: list[str], sites: dict[str, str]) -> "SiteStandardisation":
        """Statistics of every site among `slides` (the training slides), from those slides' tiles only."""
        by_site: dict[str, list[str]] = {}
        for slide in slides:
            by_site.setdefault(site_of(sites, slide), []).append(slide)
        return cls({site: bags.statistics(members) for site, members in sorted(by_site.items())}, set(by_site))

    def covering(self, bags, slides: list[str], sites: dict[str, str]) -> "SiteStandardisation":
        """These statistics plus, for each site of `slides` that has none, that site's own slides' statistics
        (label-free: only the features of the slides to be predicted are read)."""
        unseen: dict[str, list[str]] = {}
        for slide in slides:
            site = site_of(sites, slide)
            if site not in self.statistics:
                unseen.setdefault(site, []).append(slide)
        statistics = dict(self.statistics)
        for site, members in sorted(unseen.items()):
            log.warning(
                "site %s has no training slides: its features are standardised with the statistics of its own %d "
                "slide(s) being predicted (label-free)",
                site,
                len(members),
            )
            statistics[site] = bags.statistics(members)
        return SiteStandardisation(statistics, self.trained)

    def apply(self, bags, sites: dict[str, str]):
        """A view of `bags` whose tiles are standardised with their site's statistics (mil.train.Bags.mapped)."""

        def standardise(slide: str, features: torch.Tensor) -> torch.Tensor:
            site = site_of(sites, slide)
            if site not in self.statistics:
                raise KeyError(f"slide {slide}: site {site} has no standardisation statistics")
            mean, std = self.statistics[site]
            return (features - mean) / std.clamp_min(1e-6)

        return bags.mapped(standardise)

    def record(self) -> dict:
        """The checkpoint's form: site -> {mean, std} tensors, and the sites fitted on training slides."""
        return {
            "sites": {site: {"mean": mean, "std": std} for site, (mean, std) in self.statistics.items()},
            "trained": sorted(self.trained),
        }

    @classmethod
    def from_record(cls, record: dict) -> "SiteStandardisation":
        """Only the sites fitted on training slides: a new slide's unseen site is fitted anew (covering)."""
        trained = set(record["trained"])
        return cls({s: (v["mean"], v["std"]) for s, v in record["sites"].items() if s in trained}, trained)


def site_of(sites: dict[str, str | None], slide: str) -> str:
    """The slide's site; a slide without one cannot be standardised by site (a ValueError naming it)."""
    site = sites.get(slide)
    if site is None or site == "":
        raise ValueError(f"slide {slide} has no site, and training.batch_correction is 'site': give it one")
    return str(site)


class GradientReversal(torch.autograd.Function):
    """Identity forward, negated gradient backward (Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


ADVERSARY_HIDDEN = 64


class SiteAdversary(torch.nn.Module):
    """A domain-adversarial site head (training.site_adversary): it learns to tell the training sites apart from
    the mean of a bag's tile embeddings (the output of the model's `embed`), and its reversed gradient teaches the
    embedding to carry no site. Training only: predictions and checkpoints never see it."""

    def __init__(self, model: torch.nn.Module, in_dim: int, sites: list[str]):
        super().__init__()
        embed = model.inner.embed
        device = next(model.parameters()).device
        with torch.no_grad():
            hidden = embed(torch.zeros(1, in_dim, device=device)).shape[-1]
        self.head = torch.nn.Sequential(
            torch.nn.Linear(hidden, ADVERSARY_HIDDEN), torch.nn.ReLU(), torch.nn.Linear(ADVERSARY_HIDDEN, len(sites))
        ).to(device)
        self.index = {site: i for i, site in enumerate(sites)}
        self.embedded: torch.Tensor | None = None
        self.hook = embed.register_forward_hook(lambda _module, _inputs, output: setattr(self, "embedded", output))

    def loss(self, site: str) -> torch.Tensor:
        """Cross-entropy of the site head on the last bag the model embedded (its gradient reversed)."""
        bag = self.embedded.reshape(-1, self.embedded.shape[-1]).mean(0)
        logits = self.head(GradientReversal.apply(bag))
        return torch.nn.functional.cross_entropy(logits[None], torch.tensor([self.index[site]], device=logits.device))

    def detach(self) -> None:
        """Remove the hook from the model (after training)."""
        self.hook.remove()
        self.embedded = None
