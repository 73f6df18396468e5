"""Early stopping on a validation loss, shared by MIL training, PU learning and the tile classifier: keep the
module's state at the lowest loss seen and stop after `patience` checks without an improvement."""

from __future__ import annotations

import copy
import math

MIN_IMPROVEMENT = 1e-6  # a loss must fall by more than this to count as better


class EarlyStopping:
    """`check(loss, step)` after each validation; `restore()` at the end loads the best state kept.

    `loss` and `step` start as the given baseline; with `keep_current` the module's present state is that
    baseline's (training can then end no worse than it started)."""

    def __init__(
        self, module, patience: int, loss: float = math.inf, step: int | None = None, keep_current: bool = False
    ):
        self.module, self.patience = module, patience
        self.loss, self.step, self.stale = loss, step, 0
        self.state = copy.deepcopy(module.state_dict()) if keep_current else None

    def check(self, loss: float, step: int | None = None) -> bool:
        """Record one validation loss; True when training should stop."""
        if math.isfinite(loss) and loss < self.loss - MIN_IMPROVEMENT:
            self.loss, self.step, self.stale = loss, step, 0
            self.state = copy.deepcopy(self.module.state_dict())
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore(self) -> bool:
        """Load the best state kept into the module; False when none was (no finite loss was ever seen)."""
        if self.state is None:
            return False
        self.module.load_state_dict(self.state)
        return True
