"""Train one MIL model on one fold: AdamW, class weighting, tile subsampling, early stopping."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from slidesnake.core.early_stopping import EarlyStopping
from slidesnake.core.errors import InputFileError, SlideError
from slidesnake.core.logs import progress
from slidesnake.evaluation.metrics import classification_metrics
from slidesnake.io.feature_file import feature_shape, read_feature_file
from slidesnake.mil.correction import SiteAdversary, SiteStandardisation, correct_bag, corrected_dim, site_of
from slidesnake.mil.models import EVIDENCE, MILModel, build_mil_model
from slidesnake.mil.names import NO_CORRECTION
from slidesnake.mil.params import TrainParams

log = logging.getLogger(__name__)


class Bags:
    """Tile features per slide, read from the feature files when first needed and kept; with `transform`
    (slide, features) -> features, kept after it (see mapped)."""

    def __init__(self, paths: dict[str, Path], transform: Callable[[str, torch.Tensor], torch.Tensor] | None = None):
        self.paths, self.cache, self.transform = paths, {}, transform

    def mapped(self, transform: Callable[[str, torch.Tensor], torch.Tensor]) -> "Bags":
        """These bags with `transform` applied to each slide's features (the slides already read move over
        transformed; the rest are read and transformed when first needed)."""
        inner = self.transform
        composed = transform if inner is None else (lambda slide, x: transform(slide, inner(slide, x)))
        bags = Bags(self.paths, composed)
        bags.cache = {s: (transform(s, x), coords) for s, (x, coords) in self.cache.items()}
        return bags

    @classmethod
    def in_memory(cls, features: dict[str, np.ndarray]) -> "Bags":
        """Bags of features already in memory (simulated cohorts); coords are the tile indices."""
        bags = cls({})
        for slide, x in features.items():
            bags.cache[slide] = (torch.from_numpy(np.asarray(x, np.float32)), np.arange(len(x)))
        return bags

    def __getitem__(self, slide: str) -> tuple[torch.Tensor, np.ndarray]:
        if slide not in self.cache:
            features, coords, _ = read_feature_file(self.paths[slide])
            features = torch.from_numpy(features)
            self.cache[slide] = (features if self.transform is None else self.transform(slide, features), coords)
        return self.cache[slide]

    def statistics(self, slides: list[str], correction: str = NO_CORRECTION) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-dimension mean and std over every tile of `slides`, each bag after a per-bag `correction`
        (mil.correction.correct_bag)."""
        total, total_sq, n = 0.0, 0.0, 0
        for slide in slides:
            features = correct_bag(self[slide][0], correction).double()
            total, total_sq, n = total + features.sum(0), total_sq + (features**2).sum(0), n + len(features)
        mean = total / max(n, 1)
        return mean.float(), (total_sq / max(n, 1) - mean**2).clamp_min(0).sqrt().float()

    def dim(self) -> int:
        if self.cache:
            return int(next(iter(self.cache.values()))[0].shape[1])
        return feature_shape(next(iter(self.paths.values())))[1]


def class_weights(labels: list[int], n_classes: int) -> torch.Tensor:
    """Inverse class frequency; a class absent from training keeps weight 1."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    weights = np.where(counts > 0, len(labels) / (n_classes * np.maximum(counts, 1)), 1.0)
    return torch.tensor(weights, dtype=torch.float32)


def predict(
    model: MILModel, bags: Bags, slides: list[str], device, raw: bool = False
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Class probabilities per slide (rows in `slides` order; with `raw`, the model's outputs: a survival or
    regression head's risk or value) and tile scores per slide (name -> array)."""
    model.eval()
    probabilities, tile_scores = [], {}
    with torch.inference_mode():
        for slide in slides:
            features, _ = bags[slide]
            if len(features) == 0:
                raise SlideError(slide, "has no tiles; it cannot be classified")
            logits, scores = model(features.to(device))
            probabilities.append((logits.float() if raw else torch.softmax(logits.float(), 0)).cpu().numpy())
            tile_scores[slide] = {name: values.float().cpu().numpy() for name, values in scores.items()}
    return np.array(probabilities).reshape(len(slides), -1), tile_scores


def evaluate_loss(model: MILModel, bags: Bags, slides: list[str], labels: dict[str, int], weights, device) -> float:
    model.eval()
    total = 0.0
    with torch.inference_mode():
        for slide in slides:
            logits, _ = model(bags[slide][0].to(device))
            total += float(F.cross_entropy(logits[None], torch.tensor([labels[slide]], device=device), weight=weights))
    return total / max(1, len(slides))


WARMUP_SHARE = 0.05  # of all optimiser steps: linear learning-rate warm-up, then cosine decay
SMOOTHING = 0.5  # weight of the newest validation loss in its exponential moving average


def warmup_cosine(total_steps: int):
    """Learning-rate factor per step: linear warm-up over WARMUP_SHARE of the steps, then cosine to zero."""
    warmup = max(1, int(WARMUP_SHARE * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def training_indices(n: int, params: TrainParams, generator: np.random.Generator) -> np.ndarray | None:
    """Tiles of a training view of an n-tile bag: at most max_tiles, then tile_dropout of them dropped (at least
    one kept), in bag order; None when the view is the whole bag."""
    keep = min(n, params.max_tiles)
    if params.tile_dropout > 0:
        keep = max(1, int(round(keep * (1 - params.tile_dropout))))
    if keep == n:
        return None
    return np.sort(generator.choice(n, keep, replace=False))


def training_bag(features: torch.Tensor, params: TrainParams, generator: np.random.Generator) -> torch.Tensor:
    """A training view of a bag (see training_indices)."""
    index = training_indices(len(features), params, generator)
    return features if index is None else features[torch.from_numpy(index)]


UNLABELLED = np.nan  # instance target of a tile whose class no annotation says


def instance_targets(
    annotated_tumor: np.ndarray,
    positive_slide: bool,
    negative: np.ndarray | None = None,
    ignored: np.ndarray | None = None,
) -> np.ndarray:
    """Per tile of one slide, what the annotations say: 1 for annotated tumor tiles, 0 for every tile of a
    negative slide, UNLABELLED for the other tiles of a positive slide; with a pathologist's corrections
    (io.corrected_labels) also 0 for the confirmed negative tiles and UNLABELLED for the ignored ones."""
    if not positive_slide:
        targets = np.zeros(len(annotated_tumor), np.float32)
    else:
        targets = np.where(annotated_tumor, 1.0, UNLABELLED).astype(np.float32)
    if negative is not None:
        targets[negative] = 0.0
    if ignored is not None:
        targets[ignored] = UNLABELLED
    return targets


def instance_loss(evidence: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """Logistic loss of the tile evidence on the tiles with an instance target (None when there is none)."""
    known = ~torch.isnan(targets)
    if not known.any():
        return None
    return F.binary_cross_entropy_with_logits(evidence[known], targets[known])


def can_stop_early(val: list[str], labels: dict[str, int], n_classes: int, params: TrainParams) -> bool:
    """Early stopping needs a validation part with enough slides and every class (else it stops on noise)."""
    return len(val) >= params.min_validation_slides and len({labels[s] for s in val}) == n_classes


def site_adversary(
    model: MILModel, bags: Bags, train: list[str], sites: dict[str, str] | None, params: TrainParams
) -> SiteAdversary | None:
    """The fold's domain-adversarial site head, when params.site_adversary asks for one and the training slides
    come from two sites or more (else None, with a warning where it was asked for)."""
    if params.site_adversary <= 0:
        return None
    training_sites = sorted({site_of(sites or {}, s) for s in train})
    if len(training_sites) < 2:
        log.warning("training.site_adversary: the training slides come from one site; no adversary")
        return None
    return SiteAdversary(model, corrected_dim(params.batch_correction, bags.dim()), training_sites)


def train_fold(
    model_name: str,
    bags: Bags,
    labels: dict[str, int],
    train: list[str],
    val: list[str],
    n_classes: int,
    params: TrainParams,
    desc: str = "",
    instance_labels: dict[str, np.ndarray] | None = None,
    sites: dict[str, str] | None = None,
) -> tuple[MILModel, dict]:
    """Train on `train` for `params.epochs` (AdamW, warm-up and cosine decay, one bag per step), keeping the
    epoch with the lowest smoothed validation loss and stopping after `patience` epochs without improvement.
    When `val` is too small to judge (see can_stop_early), train on train + val for the whole budget and
    keep the last epoch. With `instance_labels` (slide -> instance_targets) and params.instance_weight > 0,
    the tile evidence is also trained on the annotated tiles. With params.site_adversary > 0 and `sites` (slide ->
    site) of two training sites or more, a domain-adversarial site head (mil.correction.SiteAdversary) adds its
    loss at that weight. Returns the model and the per-epoch history."""
    torch.manual_seed(params.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = torch.device("cuda" if params.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    generator = np.random.default_rng(params.seed)
    early = can_stop_early(val, labels, n_classes, params)
    if not early:
        train, val = train + val, []
    train = [s for s in train if len(bags[s][0])]
    model = build_mil_model(
        model_name,
        bags.dim(),
        n_classes,
        *bags.statistics(train, params.batch_correction),
        correction=params.batch_correction,
        **params.model_kwargs,
    ).to(device)
    adversary = site_adversary(model, bags, train, sites, params)
    lr = params.model_lr.get(model_name, params.lr)
    trained = list(model.parameters()) + (list(adversary.parameters()) if adversary else [])
    optimizer = torch.optim.AdamW(trained, lr=lr, weight_decay=params.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(params.epochs * len(train)))
    weights = (
        class_weights([labels[s] for s in train], n_classes) if params.class_weighting else torch.ones(n_classes)
    ).to(device)
    history = {"epoch": [], "train_loss": [], "val_loss": [], "val_auc": [], "early_stopping": early}
    stopping, smoothed = EarlyStopping(model, params.patience, step=-1), None
    for epoch in progress(range(params.epochs), desc or model_name, "epoch"):
        model.train()
        losses = []
        for slide in [train[i] for i in generator.permutation(len(train))]:
            features = bags[slide][0]
            index = training_indices(len(features), params, generator)
            view = features if index is None else features[torch.from_numpy(index)]
            logits, tile_scores, aux = model.forward_with_aux(view.to(device), labels[slide])
            loss = F.cross_entropy(logits[None], torch.tensor([labels[slide]], device=device), weight=weights)
            if aux is not None:
                loss = params.clam_bag_weight * loss + (1 - params.clam_bag_weight) * aux
            if adversary is not None:
                loss = loss + params.site_adversary * adversary.loss(site_of(sites, slide))
            if instance_labels is not None and params.instance_weight > 0:
                targets = instance_labels[slide] if index is None else instance_labels[slide][index]
                supervised = instance_loss(tile_scores[EVIDENCE], torch.from_numpy(targets).to(device))
                if supervised is not None:
                    loss = loss + params.instance_weight * supervised
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        history["epoch"].append(epoch)
        history["train_loss"].append(float(np.mean(losses)))
        if not early:
            history["val_loss"].append(None)
            history["val_auc"].append(None)
            continue
        val_loss = evaluate_loss(model, bags, val, labels, weights, device)
        probabilities, _ = predict(model, bags, val, device)
        history["val_loss"].append(val_loss)
        history["val_auc"].append(classification_metrics(np.array([labels[s] for s in val]), probabilities)["auc"])
        smoothed = val_loss if smoothed is None else SMOOTHING * val_loss + (1 - SMOOTHING) * smoothed
        if stopping.check(smoothed, epoch):
            break
    if adversary is not None:
        adversary.detach()
    if early and not stopping.restore():
        raise InputFileError(
            desc or model_name,
            "the validation loss was never finite; check the features "
            "(NaN or infinite values) and that the training slides hold both classes",
        )
    history["best_epoch"] = stopping.step if early else history["epoch"][-1]
    return model, history


def save_mil_checkpoint(
    path: Path,
    model: MILModel,
    model_name: str,
    in_dim: int,
    classes: list[str],
    params: TrainParams,
    endpoint: dict | None = None,
    site_standardisation: SiteStandardisation | None = None,
) -> None:
    """state_dict plus what is needed to rebuild the model; loadable with weights_only=True. A survival or
    regression model has one output (`classes` names it) and its `endpoint` (mil.endpoints.Endpoint.record:
    task type and target scale); with training.batch_correction site, the training sites' statistics."""
    torch.save(
        {
            "state_dict": model.state_dict(),
            "model": model_name,
            "in_dim": in_dim,
            "classes": list(classes),
            "params": {k: v for k, v in asdict(params).items() if k != "model_kwargs"},
            "model_kwargs": dict(params.model_kwargs),
            "endpoint": endpoint,
            "site_standardisation": None if site_standardisation is None else site_standardisation.record(),
        },
        path,
    )


def load_mil_checkpoint(path: Path, device="cpu") -> tuple[MILModel, dict]:
    """The model (its per-bag batch correction included) and the checkpoint dict (`site_standardisation`, read
    with checkpoint_site_standardisation, is applied to the bags by the caller)."""
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    model = build_mil_model(
        checkpoint["model"],
        checkpoint["in_dim"],
        len(checkpoint["classes"]),
        correction=checkpoint["params"].get("batch_correction", NO_CORRECTION),
        **checkpoint["model_kwargs"],
    )
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), checkpoint


def checkpoint_site_standardisation(checkpoint: dict) -> SiteStandardisation | None:
    """The training sites' statistics a checkpoint carries (None unless trained with batch_correction site)."""
    record = checkpoint.get("site_standardisation")
    return None if record is None else SiteStandardisation.from_record(record)
