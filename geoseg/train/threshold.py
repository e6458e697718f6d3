"""Validation IoU at every threshold from two probability histograms.

Instead of storing predictions, validation adds each pixel's road probability to a
histogram of road pixels or of background pixels (``bins`` equal bins on [0, 1]).
Cumulative sums then give TP/FP/FN — and IoU, precision, recall — for every
threshold at once, so the threshold written into the checkpoint is the one that
maximises accumulated IoU on validation data (one confusion matrix over all tiles,
the DeepGlobe convention).  Histograms add across DDP ranks with one all_reduce.
"""

from __future__ import annotations

import torch


class ThresholdSweep:
    def __init__(self, bins: int = 100, device="cpu") -> None:
        self.bins = bins
        self.pos = torch.zeros(bins, dtype=torch.float64, device=device)
        self.neg = torch.zeros(bins, dtype=torch.float64, device=device)

    @torch.no_grad()
    def update(self, prob: torch.Tensor, target: torch.Tensor) -> None:
        idx = (prob.float().clamp(0, 1) * self.bins).long().clamp_max(self.bins - 1).flatten()
        road = target.flatten() > 0.5
        self.pos += torch.bincount(idx[road], minlength=self.bins).double()
        self.neg += torch.bincount(idx[~road], minlength=self.bins).double()

    def all_reduce(self) -> None:
        import torch.distributed as dist  # lazy: torch takes seconds to load

        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.pos)
            dist.all_reduce(self.neg)

    def thresholds(self) -> torch.Tensor:
        """Threshold t_k = k / bins: a pixel is road when its probability >= t_k."""
        return torch.arange(self.bins, dtype=torch.float64) / self.bins

    def curves(self) -> dict[str, torch.Tensor]:
        # Pixels predicted road at t_k are those in bins >= k: reverse cumulative sums.
        tp = self.pos.flip(0).cumsum(0).flip(0).cpu()
        fp = self.neg.flip(0).cumsum(0).flip(0).cpu()
        fn = self.pos.sum().cpu() - tp
        iou = tp / (tp + fp + fn).clamp_min(1)
        precision = tp / (tp + fp).clamp_min(1)
        recall = tp / (tp + fn).clamp_min(1)
        return {"iou": iou, "precision": precision, "recall": recall}

    def summary(self, fixed: float = 0.5) -> dict[str, float]:
        """Metrics at the best threshold, plus IoU at `fixed` (0.5) for reference."""
        c = self.curves()
        ts = self.thresholds()
        k = int(torch.argmax(c["iou"][1:])) + 1  # t = 0 (everything is road) is no choice
        k_fixed = min(int(round(fixed * self.bins)), self.bins - 1)
        return {
            "iou": float(c["iou"][k]),
            "precision": float(c["precision"][k]),
            "recall": float(c["recall"][k]),
            "threshold": float(ts[k]),
            "iou_at_0.5": float(c["iou"][k_fixed]),
        }
