"""Training logs: per-epoch CSV, TensorBoard when installed, a curve PNG at the end.

The CSV is rewritten (atomically) from the full history every epoch, so after
``--resume`` it still holds every epoch once, and an interrupted run never leaves a
half-written row.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Optional

from geoseg.io.files import atomic_output
from geoseg.viz import save_figure

log = logging.getLogger(__name__)

COLUMNS = [
    "epoch",
    "lr",
    "train_loss",
    "val_loss",
    "val_iou",
    "val_iou_at_0.5",
    "val_precision",
    "val_recall",
    "threshold",
    "seconds",
]


class RunLogger:
    """Writes ``metrics.csv``, ``tensorboard/`` and ``curves.png`` into the run folder."""

    CSV_NAME, PNG_NAME = "metrics.csv", "curves.png"

    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.run_dir, self.enabled = Path(run_dir), enabled
        self.csv_path = self.run_dir / self.CSV_NAME
        self.png_path = self.run_dir / self.PNG_NAME
        self.tb: Optional[Any] = None
        if enabled:
            try:
                # lazy: torch takes seconds to load
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                pass
            else:
                self.tb = SummaryWriter(str(self.run_dir / "tensorboard"))

    def epoch(self, history: list[dict[str, Any]]) -> None:
        if not self.enabled:
            return
        with atomic_output(self.csv_path, kind="report") as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
                writer.writeheader()
                for row in history:
                    writer.writerow({k: _fmt(row.get(k)) for k in COLUMNS})
        if self.tb is not None:
            row = history[-1]
            for key in COLUMNS[1:]:
                if isinstance(row.get(key), (int, float)):
                    self.tb.add_scalar(key.replace("_", "/", 1), row[key], row["epoch"])
            self.tb.flush()

    def close(self, history: list[dict[str, Any]]) -> None:
        if not self.enabled:
            return
        if self.tb is not None:
            self.tb.close()
        if history:
            plot_curves(history, self.png_path)


def epoch_label(epoch: int, epochs: int) -> str:
    """The training bar's description: ``epoch 7/100``."""
    return f"epoch {epoch}/{epochs}"


def run_eta(progress: float, elapsed_s: float) -> str:
    """Estimated time left for the whole run (H:MM:SS or M:SS) from the fraction of the
    budget spent (:func:`geoseg.train.schedule.budget_progress`) and the time it took;
    early stopping can end the run sooner."""
    if progress <= 0:
        return "?"
    left = max(0.0, elapsed_s * (1.0 - progress) / progress)
    minutes, seconds = divmod(int(round(left)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def plot_curves(history: list[dict[str, Any]], path: Path) -> Path:
    """Loss (train/val) and validation IoU per epoch, side by side."""
    import matplotlib  # lazy: only for figures

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # lazy: only for figures

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    validated = [h for h in history if h.get("val_iou") is not None]  # every val_every epochs
    val_epochs = [h["epoch"] for h in validated]
    if any(h.get("val_loss") is not None for h in validated):
        ax1.plot(val_epochs, [h["val_loss"] for h in validated], "o-", label="validation")
    ax1.set(xlabel="epoch", ylabel="BCE + Dice loss", title="loss")
    ax1.legend()
    if validated:
        ax2.plot(val_epochs, [h["val_iou"] for h in validated], "o-", label="best threshold")
        ax2.plot(val_epochs, [h.get("val_iou_at_0.5") for h in validated], "o--", label="at 0.5")
        ax2.legend()
    ax2.set(xlabel="epoch", ylabel="IoU", title="validation IoU", ylim=(0, 1))
    fig.tight_layout()
    save_figure(fig, path, "report", dpi=100)
    plt.close(fig)
    return Path(path)
