"""The one early-stopping helper of MIL, PU and classifier training."""

import math

import torch

from slidesnake.core.early_stopping import EarlyStopping


def test_keeps_the_best_state_and_stops_after_patience():
    module = torch.nn.Linear(1, 1)
    stopping = EarlyStopping(module, patience=2, step=-1)
    losses = [1.0, 0.5, math.nan, 0.5 - 1e-7, 0.4]
    stops = []
    for step, loss in enumerate(losses[:4]):
        with torch.no_grad():
            module.weight.fill_(step)
        stops.append(stopping.check(loss, step))
    assert stops == [False, False, False, True]  # NaN and a change below MIN_IMPROVEMENT are no better
    assert stopping.restore() and module.weight.item() == 1.0 and stopping.step == 1 and stopping.loss == 0.5


def test_baseline_state_and_no_finite_loss():
    module = torch.nn.Linear(1, 1)
    with torch.no_grad():
        module.weight.fill_(7)
    kept = EarlyStopping(module, patience=1, loss=0.3, keep_current=True)
    with torch.no_grad():
        module.weight.fill_(0)
    assert kept.check(0.9) and kept.restore() and module.weight.item() == 7.0  # never worse than the start
    assert not EarlyStopping(module, patience=3).restore()  # nothing seen: nothing to load
