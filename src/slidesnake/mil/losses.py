"""Losses of the survival and regression heads: the Cox partial likelihood over a batch of bags (Breslow's
handling of tied times) and the regression losses. Checked against lifelines' Cox fit in tests/test_endpoints.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F

HUBER_DELTA = 1.0  # in standardised target units


def cox_partial_likelihood(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
    """Negative Cox log partial likelihood of a batch, per event, with Breslow's ties:
    -1/d * sum over events i of [r_i - log sum_{j: t_j >= t_i} exp(r_j)] (every slide still at risk at t_i,
    tied ones included). A batch without events carries no information: the loss is 0 (with a gradient of 0, so
    that the step is a no-op rather than an error)."""
    risk, time, event = risk.reshape(-1), time.reshape(-1).to(risk), event.reshape(-1).to(risk)
    events = event.sum()
    if events == 0:
        return (risk * 0).sum()
    at_risk = time[None, :] >= time[:, None]  # row i: who is still at risk at t_i
    log_risk_set = torch.logsumexp(risk[None, :].masked_fill(~at_risk, float("-inf")), dim=1)
    return -((risk - log_risk_set) * event).sum() / events


def regression_loss(prediction: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean squared error ("mse") or Huber loss ("huber", delta HUBER_DELTA) of a batch."""
    prediction, target = prediction.reshape(-1), target.reshape(-1).to(prediction)
    if kind == "mse":
        return F.mse_loss(prediction, target)
    if kind == "huber":
        return F.huber_loss(prediction, target, delta=HUBER_DELTA)
    raise ValueError(f"unknown regression loss '{kind}'")
