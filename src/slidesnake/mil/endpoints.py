"""Survival and regression heads on the MIL models: every registry model with one output (a slide's log hazard,
or its value), trained on batches of bags with the Cox partial likelihood or a regression loss, and the epoch
kept by the task's own metric on the validation part (C-index; negative mean squared error)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from slidesnake.core.early_stopping import EarlyStopping
from slidesnake.core.errors import InputFileError
from slidesnake.core.labels import SURVIVAL
from slidesnake.core.logs import progress
from slidesnake.evaluation.endpoints import harrell_c, regression_metrics
from slidesnake.mil.losses import cox_partial_likelihood, regression_loss
from slidesnake.mil.models import MILModel, build_mil_model
from slidesnake.mil.params import TrainParams
from slidesnake.mil.train import SMOOTHING, Bags, predict, training_indices, warmup_cosine


@dataclass(frozen=True)
class Endpoint:
    """A survival or regression task as its training needs it (from workflow.tasks.task_spec)."""

    kind: str  # survival | regression
    batch_slides: int
    loss: str | None  # regression only: huber | mse
    standardise: bool  # regression only

    @classmethod
    def from_spec(cls, spec: dict) -> "Endpoint":
        """From a task spec (workflow.tasks.task_spec of a checked config: the schema filled its defaults)."""
        return cls(spec["type"], spec["batch_slides"], spec.get("loss"), bool(spec.get("standardise")))


def target_arrays(endpoint: Endpoint, targets: dict, slides: list[str]) -> dict[str, np.ndarray]:
    """The targets of `slides`: time and event (survival) or value (regression), as arrays in slide order."""
    if endpoint.kind == SURVIVAL:
        return {
            "time": np.array([targets[s][0] for s in slides], float),
            "event": np.array([targets[s][1] for s in slides], float),
        }
    return {"value": np.array([targets[s] for s in slides], float)}


def endpoint_score(endpoint: Endpoint, targets: dict, slides: list[str], outputs: np.ndarray) -> float | None:
    """The task's metric on predictions (higher is better): C-index, or minus the mean squared error."""
    arrays = target_arrays(endpoint, targets, slides)
    if endpoint.kind == SURVIVAL:
        return harrell_c(arrays["time"], arrays["event"], outputs)
    mse = regression_metrics(arrays["value"], outputs)["mse"]
    return None if mse is None else -mse


def can_select(endpoint: Endpoint, targets: dict, val: list[str], params: TrainParams) -> bool:
    """Model selection needs enough validation slides (and, for survival, an event among them)."""
    if len(val) < params.min_validation_slides:
        return False
    return endpoint.kind != SURVIVAL or any(targets[s][1] for s in val)


def batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    """The slides of an epoch cut into batches of about `size` (equal sizes: no batch of one left over)."""
    return np.array_split(order, max(1, math.ceil(len(order) / size)))


def predict_endpoint(model: MILModel, bags: Bags, slides: list[str], scale: tuple[float, float], device):
    """Outputs per slide (risks, or values in the target's units) and tile scores per slide."""
    outputs, tile_scores = predict(model, bags, slides, device, raw=True)
    return outputs[:, 0] * scale[1] + scale[0], tile_scores


def train_endpoint_fold(
    model_name: str,
    bags: Bags,
    targets: dict,
    train: list[str],
    val: list[str],
    endpoint: Endpoint,
    params: TrainParams,
    desc: str = "",
) -> tuple[MILModel, dict, tuple[float, float]]:
    """Train a one-output model on `train` (AdamW, warm-up and cosine decay, `endpoint.batch_slides` bags per step:
    the Cox loss compares the risks within a batch), keeping the epoch with the best smoothed validation metric
    (C-index, or minus the MSE) and stopping after `patience` epochs without improvement; with a validation part
    too small to judge (can_select), train on train + val for the whole budget. Regression targets are standardised
    with the training slides' mean and sd when `endpoint.standardise`. Returns the model, the per-epoch history and
    the target scale (mean, sd) that turns outputs back into the target's units ((0, 1) for survival)."""
    torch.manual_seed(params.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = torch.device("cuda" if params.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    generator = np.random.default_rng(params.seed)
    early = can_select(endpoint, targets, val, params)
    if not early:
        train, val = train + val, []
    train = [s for s in train if len(bags[s][0])]
    arrays = target_arrays(endpoint, targets, train)
    scale = (0.0, 1.0)
    if endpoint.kind != SURVIVAL and endpoint.standardise:
        scale = (float(arrays["value"].mean()), float(arrays["value"].std()) or 1.0)
    model = build_mil_model(
        model_name,
        bags.dim(),
        1,
        *bags.statistics(train, params.batch_correction),
        correction=params.batch_correction,
        **params.model_kwargs,
    ).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=params.model_lr.get(model_name, params.lr), weight_decay=params.weight_decay
    )
    steps = params.epochs * len(batches(np.arange(len(train)), endpoint.batch_slides))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps))
    history = {"epoch": [], "train_loss": [], "val_score": [], "early_stopping": early}
    stopping, smoothed = EarlyStopping(model, params.patience, step=-1), None
    for epoch in progress(range(params.epochs), desc or model_name, "epoch"):
        model.train()
        losses = []
        for batch in batches(generator.permutation(len(train)), endpoint.batch_slides):
            outputs = []
            for i in batch:
                features = bags[train[i]][0]
                index = training_indices(len(features), params, generator)
                view = features if index is None else features[torch.from_numpy(index)]
                outputs.append(model.forward_with_aux(view.to(device), None)[0][0])
            outputs = torch.stack(outputs)
            if endpoint.kind == SURVIVAL:
                loss = cox_partial_likelihood(
                    outputs,
                    torch.from_numpy(arrays["time"][batch]).to(device),
                    torch.from_numpy(arrays["event"][batch]).to(device),
                )
            else:
                target = (arrays["value"][batch] - scale[0]) / scale[1]
                loss = regression_loss(outputs, torch.from_numpy(target).to(device), endpoint.loss)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        history["epoch"].append(epoch)
        history["train_loss"].append(float(np.mean(losses)))
        if not early:
            history["val_score"].append(None)
            continue
        predicted, _ = predict_endpoint(model, bags, val, scale, device)
        score = endpoint_score(endpoint, targets, val, predicted)
        history["val_score"].append(score)
        if score is None:
            continue
        smoothed = score if smoothed is None else SMOOTHING * score + (1 - SMOOTHING) * smoothed
        if stopping.check(-smoothed, epoch):
            break
    if early and not stopping.restore():
        raise InputFileError(
            desc or model_name,
            "the validation metric was never finite; check the features (NaN or infinite values) and the targets",
        )
    history["best_epoch"] = stopping.step if early else history["epoch"][-1]
    return model, history, scale
