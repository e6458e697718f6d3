"""Learning-rate schedules: D-LinkNet's plateau schedule, and a budget-aware cosine.

``plateau`` is torch's ``ReduceLROnPlateau`` stepped with each validation score.

``cosine`` anneals the learning rate from ``train.lr`` to 0 along half a cosine, per
optimizer step, over the *training budget*: the fraction of it spent is the largest
of steps/``max_steps``, steps/(``epochs`` × steps per epoch) and elapsed
time/``max_minutes``.  So a run limited by a wall-clock budget ends with a small
learning rate exactly when the budget ends — the "budgeted training" result (Li et
al., ICLR 2020): annealing to zero by the end of whatever budget you have beats a
constant or an epoch-based schedule that the budget cuts off half-way.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class BudgetCosine:
    """Half-cosine from the optimizer's initial lr down to 0 as progress goes 0 → 1."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.progress = 0.0

    def update(self, progress: float) -> None:
        """Set the learning rates for `progress` (fraction of the budget spent)."""
        self.progress = min(max(float(progress), 0.0), 1.0)
        factor = 0.5 * (1.0 + math.cos(math.pi * self.progress))
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor

    def state_dict(self) -> dict[str, Any]:
        return {"base_lrs": list(self.base_lrs), "progress": self.progress}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lrs = list(state["base_lrs"])
        self.update(state["progress"])


def budget_progress(
    step: int,
    steps_per_epoch: int,
    epochs: int,
    max_steps: int | None,
    elapsed_s: float,
    max_minutes: float | None,
) -> float:
    """Fraction of the training budget spent after `step` steps and `elapsed_s` seconds."""
    parts = [step / max(1, steps_per_epoch * epochs)]
    if max_steps:
        parts.append(step / max_steps)
    if max_minutes:
        parts.append(elapsed_s / (60.0 * max_minutes))
    return min(1.0, max(parts))
