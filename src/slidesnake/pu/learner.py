"""Positive-unlabeled learning on tiles from partial tumor annotations.

Positive (P): annotated tumor tiles. Unlabeled (U): the other tissue tiles of positive slides.
Negative (N, optional): tiles of negative slides (PNU). The tile classifier is trained with the
non-negative PU risk (Kiryo et al. 2017); the class prior of U is given or estimated with the
Elkan & Noto (2008) estimator.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler
from torch import nn

from slidesnake.workflow.params import PUParams


def sigmoid_loss(scores: torch.Tensor, sign: float) -> torch.Tensor:
    """l(z, y) = sigmoid(-y z), bounded and symmetric (l(z, +1) + l(z, -1) = 1)."""
    return torch.sigmoid(-sign * scores)


def nnpu_risk(scores_p: torch.Tensor, scores_u: torch.Tensor, prior: float, beta: float = 0.0,
              gamma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(objective to minimise, risk value). When the estimated negative risk falls below -beta the
    objective is -gamma times it: a step that pushes it back up (Kiryo et al., Algorithm 1)."""
    positive = prior * sigmoid_loss(scores_p, +1).mean()
    negative = sigmoid_loss(scores_u, -1).mean() - prior * sigmoid_loss(scores_p, -1).mean()
    risk = positive + negative
    if negative < -beta:
        return -gamma * negative, risk
    return risk, risk


def pnu_risk(scores_p, scores_u, scores_n, prior: float, eta: float = 0.5, beta: float = 0.0,
             gamma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(1 - eta) * PN risk + eta * nnPU risk (Sakai et al. 2017), with known negatives N."""
    objective_pu, risk_pu = nnpu_risk(scores_p, scores_u, prior, beta, gamma)
    risk_pn = prior * sigmoid_loss(scores_p, +1).mean() + (1 - prior) * sigmoid_loss(scores_n, -1).mean()
    return (1 - eta) * risk_pn + eta * objective_pu, (1 - eta) * risk_pn + eta * risk_pu


def elkan_noto_prior(labeled: np.ndarray, unlabeled: np.ndarray, seed: int = 0, folds: int = 5) -> dict:
    """Share of positives in U by Elkan & Noto's e1: c = mean P(s=1|x) over held-out labeled tiles of a
    labeled-vs-unlabeled classifier; positives in U = n_l / c - n_l."""
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
    def __init__(self, in_dim: int, hidden: int = 256, dropout: float = 0.25):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)[:, 0]


def _batches(n: int, size: int, rng: np.random.Generator):
    order = rng.permutation(n)
    return [order[i:i + size] for i in range(0, n, size)] or [order]


def train_tile_classifier(p: np.ndarray, u: np.ndarray, n: np.ndarray | None, prior: float, params: PUParams,
                          mode: str) -> tuple[TileClassifier, StandardScaler]:
    """mode "nnpu": PU (or PNU when `n` is given) risk; mode "naive": U (and N) treated as negative."""
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    scaler = StandardScaler().fit(np.concatenate([a for a in (p, u, n) if a is not None and len(a)]))
    tp, tu = (torch.from_numpy(scaler.transform(a).astype(np.float32)) for a in (p, u))
    tn = torch.from_numpy(scaler.transform(n).astype(np.float32)) if n is not None and len(n) else None
    model = TileClassifier(p.shape[1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    for _ in range(params.epochs):
        model.train()
        u_batches = _batches(len(tu), params.batch_size, rng)
        steps = len(u_batches)
        p_batches = [rng.choice(len(tp), min(len(tp), params.batch_size)) for _ in range(steps)]
        n_batches = [rng.choice(len(tn), min(len(tn), params.batch_size)) for _ in range(steps)] if tn is not None else None
        for step in range(steps):
            sp, su = model(tp[p_batches[step]]), model(tu[u_batches[step]])
            sn = model(tn[n_batches[step]]) if tn is not None else None
            if mode == "nnpu":
                objective = (pnu_risk(sp, su, sn, prior, params.eta)[0] if sn is not None
                             else nnpu_risk(sp, su, prior)[0])
            else:
                negatives = su if sn is None else torch.cat([su, sn])
                scores = torch.cat([sp, negatives])
                targets = torch.cat([torch.ones(len(sp)), torch.zeros(len(negatives))])
                pos_weight = torch.tensor(len(negatives) / max(1, len(sp)))
                objective = nn.functional.binary_cross_entropy_with_logits(scores, targets, pos_weight=pos_weight)
            optimizer.zero_grad()
            objective.backward()
            optimizer.step()
    return model.eval(), scaler


def tile_probabilities(model: TileClassifier, scaler: StandardScaler, features: np.ndarray) -> np.ndarray:
    if not len(features):
        return np.zeros(0, np.float32)
    with torch.inference_mode():
        return torch.sigmoid(model(torch.from_numpy(scaler.transform(features).astype(np.float32)))).numpy()


def top_k_mean(probabilities: np.ndarray, k: int) -> float:
    if not len(probabilities):
        return float("nan")
    return float(np.sort(probabilities)[-k:].mean())
