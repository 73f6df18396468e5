"""Positive-unlabeled learning on tiles from partial tumor annotations.

Positive (P): annotated tumor tiles. Unlabeled (U): the other tissue tiles of positive slides.
Negative (N, optional): tiles of negative slides (PNU, Sakai et al. 2017). The tile classifier minimises
the non-negative PU risk (Kiryo et al. 2017) with the logistic loss (the sigmoid loss of the original
paper gives weak gradients and under-trains); the class prior of U is given or estimated with the
Elkan & Noto (2008) estimator. The naive baseline trains the same classifier with U (and N) as negative.

Training follows the problem, not a fixed epoch count: every step sees a batch of P (drawn with
replacement: there are few), of U and of N; the step budget is a number of passes over U, but at least
`min_steps`; a held-out share of P, U and N selects the step with the lowest validation risk (the PU
risk for nnPU, the balanced loss for the baseline) and stops after `patience` evaluations without
improvement.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler
from torch import nn

from slidesnake.core.early_stopping import EarlyStopping
from slidesnake.io.tile_scores import PU_BASELINE, PU_SCORE
from slidesnake.pu.params import PUParams

log = logging.getLogger(__name__)
NNPU, NAIVE = PU_SCORE, PU_BASELINE
MIN_VALIDATION_POSITIVES = 50  # fewer held-out P tiles: no model selection (it would cost too many of the few P)


def logistic_loss(scores: torch.Tensor, sign: float) -> torch.Tensor:
    """l(z, y) = log(1 + exp(-y z)): the usual loss of deep nnPU."""
    return F.softplus(-sign * scores)


def sigmoid_loss(scores: torch.Tensor, sign: float) -> torch.Tensor:
    """l(z, y) = sigmoid(-y z), bounded and symmetric (l(z, +1) + l(z, -1) = 1)."""
    return torch.sigmoid(-sign * scores)


LOSSES = {"logistic": logistic_loss, "sigmoid": sigmoid_loss}


def nnpu_risk(
    scores_p: torch.Tensor,
    scores_u: torch.Tensor,
    prior: float,
    loss=logistic_loss,
    beta: float = 0.0,
    gamma: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(objective to minimise, non-negative risk). When the estimated negative risk falls below -beta the
    objective is -gamma times it: a step that pushes it back up (Kiryo et al., Algorithm 1)."""
    positive = prior * loss(scores_p, +1).mean()
    negative = loss(scores_u, -1).mean() - prior * loss(scores_p, -1).mean()
    risk = positive + torch.clamp(negative, min=0)
    if negative < -beta:
        return -gamma * negative, risk
    return positive + negative, risk


def pnu_risk(
    scores_p, scores_u, scores_n, prior: float, eta: float, loss=logistic_loss
) -> tuple[torch.Tensor, torch.Tensor]:
    """(1 - eta) * PN risk + eta * nnPU risk (Sakai et al. 2017), with known negatives N."""
    objective_pu, risk_pu = nnpu_risk(scores_p, scores_u, prior, loss)
    risk_pn = prior * loss(scores_p, +1).mean() + (1 - prior) * loss(scores_n, -1).mean()
    return (1 - eta) * risk_pn + eta * objective_pu, (1 - eta) * risk_pn + eta * risk_pu


def naive_risk(scores_p, scores_negative, loss=logistic_loss) -> torch.Tensor:
    """The baseline's loss: P against U (and N) as negatives, both classes weighted equally."""
    return 0.5 * loss(scores_p, +1).mean() + 0.5 * loss(scores_negative, -1).mean()


def elkan_noto_prior(labeled: np.ndarray, unlabeled: np.ndarray, seed: int = 0, folds: int = 5) -> dict:
    """Share of positives in U by Elkan & Noto's e1: c = mean P(s=1|x) over held-out labeled tiles of a
    labeled-vs-unlabeled classifier; positives in U = n_l / c - n_l. Accurate when P and the negatives
    separate; biased upward when they overlap."""
    x = np.concatenate([labeled, unlabeled]).astype(np.float64)
    s = np.concatenate([np.ones(len(labeled)), np.zeros(len(unlabeled))]).astype(int)
    x = StandardScaler().fit_transform(x)
    cv = StratifiedKFold(n_splits=min(folds, len(labeled), len(unlabeled)), shuffle=True, random_state=seed)
    g = cross_val_predict(LogisticRegression(C=1.0, max_iter=5000), x, s, cv=cv, method="predict_proba")[:, 1]
    c = float(np.clip(g[s == 1].mean(), 1e-3, 1.0))
    n_l, n_u = len(labeled), len(unlabeled)
    prior = float(np.clip((n_l / c - n_l) / n_u, 0.01, 0.99))
    return {"prior": prior, "label_frequency_c": c}


class TileClassifier(nn.Module):
    """A tile scorer: linear (hidden 0: the right size for a few dozen annotated tiles) or a one-layer MLP."""

    def __init__(self, in_dim: int, hidden: int, dropout: float):
        super().__init__()
        if hidden:
            self.net = nn.Sequential(
                nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
            )
        else:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, 1))

    def forward(self, x):
        return self.net(x)[:, 0]


def split_validation(n: int, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    held = int(round(share * n))
    return order[held:], order[:held]


def step_budget(n_unlabeled: int, params: PUParams) -> int:
    """Passes over U (params.epochs), but never fewer than min_steps nor more than max_steps."""
    return int(min(params.max_steps, max(params.min_steps, params.epochs * math.ceil(n_unlabeled / params.batch_size))))


class Objective:
    """The training objective and the validation criterion of one mode on given P, U and N score batches."""

    def __init__(self, mode: str, prior: float, params: PUParams):
        if mode not in (NNPU, NAIVE):
            raise ValueError(f"unknown PU mode '{mode}'")
        self.mode, self.prior, self.eta, self.loss = mode, prior, params.eta, LOSSES[params.loss]

    def __call__(self, sp, su, sn) -> tuple[torch.Tensor, torch.Tensor]:
        """(objective, risk): the risk is what validation minimises."""
        if self.mode == NNPU:
            return (
                pnu_risk(sp, su, sn, self.prior, self.eta, self.loss)
                if sn is not None
                else nnpu_risk(sp, su, self.prior, self.loss)
            )
        risk = naive_risk(sp, su if sn is None else torch.cat([su, sn]), self.loss)
        return risk, risk


def train_tile_classifier(
    p: np.ndarray, u: np.ndarray, n: np.ndarray | None, prior: float, params: PUParams, mode: str
) -> tuple[TileClassifier, StandardScaler, dict]:
    """mode "nnpu": the nnPU (or, with `n`, PNU) risk; mode "naive": U (and N) treated as negative.
    Returns the model at the selected step, its feature scaler and the training history."""
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    scaler = StandardScaler().fit(np.concatenate([a for a in (p, u, n) if a is not None and len(a)]))
    sets = {"p": p, "u": u, "n": n if n is not None and len(n) else None}
    tensors = {
        k: None if a is None else torch.from_numpy(scaler.transform(a).astype(np.float32)) for k, a in sets.items()
    }
    select = len(p) * params.validation_share >= MIN_VALIDATION_POSITIVES
    train, valid = {}, {}
    for key, t in tensors.items():
        if t is None:
            train[key] = valid[key] = None
        elif select:
            fit, held = split_validation(len(t), params.validation_share, rng)
            train[key], valid[key] = t[fit], t[held]
        else:
            train[key], valid[key] = t, None
    objective = Objective(mode, prior, params)
    model = TileClassifier(p.shape[1], params.hidden, params.dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    steps = step_budget(len(train["u"]), params)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    history = {"steps": steps, "model_selection": select, "step": [], "validation_risk": []}
    stopping = EarlyStopping(model, params.patience, step=steps)

    def batch(key):
        t = train[key]
        return None if t is None else t[torch.from_numpy(rng.integers(len(t), size=min(params.batch_size, len(t))))]

    for step in range(1, steps + 1):
        model.train()
        sp, su, sn = (None if x is None else model(x) for x in (batch("p"), batch("u"), batch("n")))
        loss, _ = objective(sp, su, sn)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if select and (step % params.eval_every == 0 or step == steps):
            model.eval()
            with torch.inference_mode():
                scored = [None if valid[k] is None else model(valid[k]) for k in ("p", "u", "n")]
                risk = float(objective(*scored)[1])
            history["step"].append(step)
            history["validation_risk"].append(risk)
            if stopping.check(risk, step):
                break
    stopping.restore()
    history["selected_step"] = stopping.step
    return model.eval(), scaler, history


def tile_probabilities(model: TileClassifier, scaler: StandardScaler, features: np.ndarray) -> np.ndarray:
    if not len(features):
        return np.zeros(0, np.float32)
    with torch.inference_mode():
        return torch.sigmoid(model(torch.from_numpy(scaler.transform(features).astype(np.float32)))).numpy()


def top_k_mean(probabilities: np.ndarray, k: int) -> float:
    if not len(probabilities):
        return float("nan")
    return float(np.sort(probabilities)[-k:].mean())
