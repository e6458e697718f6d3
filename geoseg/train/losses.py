"""D-LinkNet's loss: binary cross-entropy + soft Dice, with deep supervision.

``dice_bce`` is D-LinkNet's ``dice_bce_loss``: BCE on logits plus ``1 - Dice`` where
Dice is computed over the whole batch (one ratio, not a mean of per-image ratios), so
images without roads do not produce a 0/0.  :class:`SegmentationLoss` adds
AD-LinkNet's auxiliary heads, each weighted by ``aux_weight`` (0.4 by default).
"""

from __future__ import annotations

from typing import Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

Output = Union[torch.Tensor, tuple[torch.Tensor, Sequence[torch.Tensor]]]


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - batch Dice of sigmoid(logits) against a 0/1 target."""
    prob = torch.sigmoid(logits.float())
    inter = (prob * target).sum()
    return 1.0 - (2.0 * inter + smooth) / (prob.sum() + target.sum() + smooth)


def dice_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if logits.shape[-2:] != target.shape[-2:]:  # an auxiliary head at lower resolution
        target = F.interpolate(target, size=logits.shape[-2:], mode="nearest")
    bce = F.binary_cross_entropy_with_logits(logits.float(), target)
    return bce + soft_dice_loss(logits, target)


class SegmentationLoss(nn.Module):
    """``dice_bce(main) + aux_weight * sum(dice_bce(aux_i))``."""

    def __init__(self, aux_weight: float = 0.4) -> None:
        super().__init__()
        self.aux_weight = float(aux_weight)

    def forward(self, output: Output, target: torch.Tensor) -> torch.Tensor:
        main, aux = split_output(output)
        loss = dice_bce(main, target)
        for extra in aux:
            loss = loss + self.aux_weight * dice_bce(extra, target)
        return loss


def split_output(output: Output) -> tuple[torch.Tensor, Sequence[torch.Tensor]]:
    """A model returns logits, or ``(logits, [aux logits...])`` in training mode."""
    if isinstance(output, (tuple, list)):
        main, aux = output
        return main, list(aux)
    return output, []
