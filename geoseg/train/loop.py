"""The training loop: D-LinkNet's recipe with AMP, DDP, resume and safe checkpoints.

One :class:`Trainer` runs epochs of (augmented, road-weighted) windows through the
model with Adam, BCE + Dice loss (plus weighted auxiliary heads), gradient clipping
and — on CUDA — autocast (bf16, or fp16 with a GradScaler).  After every epoch it
validates: accumulated IoU over all validation tiles at every threshold
(:class:`~geoseg.train.threshold.ThresholdSweep`); the best threshold and its IoU
are the epoch's score.

Validation runs every ``val_every`` epochs and after the last one (the last epoch,
``max_steps`` or the ``max_minutes`` budget reached).  Schedules
(:mod:`geoseg.train.schedule`): ``plateau`` (D-LinkNet: lr ÷ 5 after
``plateau_patience`` validations without a better score, stop after ``early_stop``
such validations) or ``cosine`` (annealed to 0 per step over the training budget).
Rank 0 writes two checkpoints: the *best* one (weights and everything prediction
needs, into the models directory) whenever the score improves, and ``last.pt`` in
the run folder after every validation with optimizer/scheduler/scaler state, the
history and the training time spent, which ``--resume`` continues from exactly.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Sampler, Subset
from tqdm.auto import tqdm

from geoseg.checkpoint import Checkpoint, TrainingState, load_checkpoint
from geoseg.config import RunConfig
from geoseg.device import amp_dtype, as_input, autocast, prepare_model
from geoseg.distributed import DistContext
from geoseg.errors import CheckpointError, TrainingError
from geoseg.train.logs import RunLogger, epoch_label, run_eta
from geoseg.train.losses import SegmentationLoss, dice_bce, split_output
from geoseg.train.schedule import BudgetCosine, budget_progress
from geoseg.train.threshold import ThresholdSweep

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    checkpoint_path: Path  # best checkpoint (models directory)
    best_metrics: dict[str, float]
    history: list[dict[str, Any]]
    run_dir: Optional[Path] = None  # metrics.csv, curves.png, last.pt


def check_resumable(ckpt: Checkpoint, path: str | Path) -> TrainingState:
    """`ckpt`'s training state; CheckpointError unless it is a run's last.pt."""
    if ckpt.training is None:
        raise CheckpointError(
            f"{path}: cannot resume: no optimizer state (use the run's "
            "last.pt, not the best checkpoint)"
        )
    return ckpt.training


def usable_workers(requested: int) -> int:
    """data.num_workers capped at the CPU cores this process may use (what DataLoader
    suggests; more workers than cores only compete with the training step)."""

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(0, min(int(requested), cores))


class Trainer:
    """Trains `model` on `train_ds`, validating on `val_ds` (optional) every `val_every` epochs.

    `meta` holds the checkpoint's descriptive fields (arch, backbone, in_channels,
    model_kwargs, bands, normalizer, tile, config).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        train_ds,
        val_ds,
        cfg: RunConfig,
        meta: dict[str, Any],
        *,
        best_path: Path,
        run_dir: Path,
        dist: Optional[DistContext] = None,
    ) -> None:
        self.cfg, self.meta = cfg, dict(meta)
        self.dist = dist or DistContext()
        self.device = self.dist.device
        self.train_ds, self.val_ds = train_ds, val_ds
        self.best_path, self.run_dir = Path(best_path), Path(run_dir)
        self.last_path = self.run_dir / "last.pt"
        self.model = prepare_model(model, self.device)
        self.net = self.model
        if self.dist.active:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        t = cfg.train
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=t.lr, weight_decay=t.weight_decay
        )
        self.scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | BudgetCosine
        if t.schedule == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="max", factor=t.plateau_factor, patience=t.plateau_patience
            )
        else:
            self.scheduler = BudgetCosine(self.optimizer)
        self.amp = bool(t.amp) and amp_dtype(self.device) is not None
        fp16 = self.amp and amp_dtype(self.device) == torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)
        self.loss_fn = SegmentationLoss(cfg.model.aux_weight)
        self.logger = RunLogger(self.run_dir, enabled=self.dist.is_main)
        self.start_epoch, self.step = 1, 0
        self.history: list[dict[str, Any]] = []
        self.best_metrics: dict[str, Any] = {}
        self.best_score, self.stale = -math.inf, 0
        self.elapsed_before = 0.0  # training seconds spent before this process (resume)
        self._t0 = time.perf_counter()

    # ---------------------------------------------------------------- resume
    def resume(self, path: str | Path) -> None:
        """Restore weights, optimizer/scheduler/scaler state and history from `last.pt`."""
        ckpt = load_checkpoint(path, map_location=str(self.device))
        for key in ("arch", "backbone", "in_channels"):
            if getattr(ckpt, key) != self.meta.get(key):
                raise CheckpointError(
                    f"{path}: cannot resume: checkpoint {key} is {getattr(ckpt, key)!r}, the "
                    f"config says {self.meta.get(key)!r}"
                )
        state = check_resumable(ckpt, path)
        self.model.load_state_dict(ckpt.state_dict or {})
        self.optimizer.load_state_dict(state.optimizer)
        self.scheduler.load_state_dict(state.scheduler)
        if state.scaler:
            self.scaler.load_state_dict(state.scaler)
        self.start_epoch = int(ckpt.epoch or 0) + 1
        self.step = state.step
        self.history = list(state.history)
        self.best_score = state.best_score
        self.best_metrics = dict(ckpt.metrics)
        self.stale = state.stale
        self.elapsed_before = state.elapsed_s
        log.info("resuming %s after epoch %d", path, self.start_epoch - 1)

    # ----------------------------------------------------------------- loops
    def fit(self) -> TrainResult:
        t = self.cfg.train
        self._t0 = time.perf_counter()
        try:
            for epoch in range(self.start_epoch, t.epochs + 1):
                started = time.perf_counter()
                lr = self.optimizer.param_groups[0]["lr"]
                train_loss = self.train_epoch(epoch)
                final = epoch == t.epochs or self._out_of_budget()
                row = {"epoch": epoch, "lr": lr, "train_loss": train_loss}
                validating = final or epoch % t.val_every == 0
                if validating:
                    row.update(self.validate())
                row["seconds"] = time.perf_counter() - started
                self.history.append(row)
                if validating:
                    self._after_validation(epoch, row)
                else:
                    log.info("epoch %d: train loss %.4f", epoch, train_loss)
                if t.schedule == "plateau" and self.stale >= t.early_stop:
                    log.info("stopping: no better score for %d validations", self.stale)
                    break
                if final and epoch < t.epochs:
                    log.info("stopping: train.max_steps or train.max_minutes reached")
                    break
        finally:
            self.logger.close(self.history)
        return TrainResult(self.best_path, self.best_metrics, self.history, self.run_dir)

    def _after_validation(self, epoch: int, row: dict[str, Any]) -> None:
        """Best-checkpoint bookkeeping, plateau step, last.pt, log line."""
        score = row["val_iou"] if row.get("val_iou") is not None else -row["train_loss"]
        improved = score > self.best_score
        if improved:
            self.best_score, self.stale = score, 0
            self.best_metrics = _metrics(row)
        else:
            self.stale += 1
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):  # "plateau"
            self.scheduler.step(score)
        self._save(epoch, row, improved)
        log.info(
            "epoch %d: train loss %.4f, val IoU %s (threshold %s)%s",
            epoch,
            row["train_loss"],
            _f(row.get("val_iou")),
            _f(row.get("threshold")),
            " - best" if improved else "",
        )

    @property
    def elapsed(self) -> float:
        """Training seconds spent so far, across resumes."""
        return self.elapsed_before + time.perf_counter() - self._t0

    def _loader(self, dataset, shuffle: bool, epoch: int) -> DataLoader:
        data = self.cfg.data
        sampler: Sampler[int] | None
        if shuffle:
            if self.dist.active:
                sampler = DistributedSampler(
                    dataset,
                    num_replicas=self.dist.world_size,
                    rank=self.dist.rank,
                    shuffle=True,
                    seed=self.cfg.train.seed,
                )
                sampler.set_epoch(epoch)
            else:
                gen = torch.Generator().manual_seed(self.cfg.train.seed * 100_003 + epoch)
                sampler = RandomSampler(dataset, generator=gen)
        else:
            dataset = Subset(dataset, range(self.dist.rank, len(dataset), self.dist.world_size))
            sampler = None
        return DataLoader(
            dataset,
            batch_size=data.batch_size,
            sampler=sampler,
            num_workers=usable_workers(data.num_workers),
            pin_memory=self.device.type == "cuda",
            drop_last=shuffle and len(dataset) >= data.batch_size * self.dist.world_size,
            persistent_workers=False,
        )

    def train_epoch(self, epoch: int) -> float:

        self.train_ds.set_epoch(epoch)
        self.net.train()
        loader = self._loader(self.train_ds, True, epoch)
        t = self.cfg.train
        clip, per_epoch = t.grad_clip, len(loader)
        total, count = 0.0, 0
        bar = tqdm(
            loader,
            desc=epoch_label(epoch, t.epochs),
            leave=False,
            disable=not self.dist.is_main,
            unit="batch",
        )
        for batch in bar:
            if self._out_of_budget():
                break
            image = batch["image"].to(self.device, non_blocking=True)
            mask = batch["mask"].to(self.device, non_blocking=True)
            image = as_input(image)
            with autocast(self.device, self.amp):
                loss = self.loss_fn(self.net(image), mask)
            if self.dist.any(not bool(torch.isfinite(loss))):
                raise TrainingError(
                    f"training stopped: the loss became NaN/inf at epoch {epoch}, step "
                    f"{self.step + 1} (lr {self.optimizer.param_groups[0]['lr']:.3g}); lower "
                    "train.lr, keep train.grad_clip on, or check the images for NaN values"
                )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if clip and clip > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            progress = budget_progress(
                self.step, per_epoch, t.epochs, t.max_steps, self.elapsed, t.max_minutes
            )
            if isinstance(self.scheduler, BudgetCosine):
                self.scheduler.update(progress)
            total += float(loss.detach())
            count += 1
            bar.set_postfix(loss=f"{total / count:.4f}", run_eta=run_eta(progress, self.elapsed))
        return self.dist.mean(total / max(count, 1))

    def _out_of_budget(self) -> bool:
        """max_steps reached, or the max_minutes deadline passed (on any rank)."""
        max_steps = self.cfg.train.max_steps
        if max_steps is not None and self.step >= max_steps:
            return True
        if not self.cfg.train.max_minutes:
            return False
        return self.dist.any(self.elapsed > 60.0 * self.cfg.train.max_minutes)

    @torch.no_grad()
    def validate(self) -> dict[str, Optional[float]]:
        if self.val_ds is None or len(self.val_ds) == 0:
            return {"val_loss": None, "val_iou": None, "threshold": 0.5}
        self.model.eval()
        sweep = ThresholdSweep(device=self.device)
        total, count = 0.0, 0
        for batch in self._loader(self.val_ds, False, 0):
            image = as_input(batch["image"].to(self.device))
            mask = batch["mask"].to(self.device)
            with autocast(self.device, self.amp):
                logits, _ = split_output(self.model(image))
            total += float(dice_bce(logits.float(), mask)) * len(image)
            count += len(image)
            sweep.update(torch.sigmoid(logits.float()), mask)
        sweep.all_reduce()
        s = sweep.summary()
        n = self.dist.mean(float(count)) * self.dist.world_size
        return {
            "val_loss": self.dist.mean(total) * self.dist.world_size / max(n, 1),
            "val_iou": s["iou"],
            "val_iou_at_0.5": s["iou_at_0.5"],
            "val_precision": s["precision"],
            "val_recall": s["recall"],
            "threshold": s["threshold"],
        }

    # ----------------------------------------------------------- checkpoints
    def _checkpoint(
        self, epoch: int, metrics: dict[str, float], threshold: float, training: bool = False
    ) -> Checkpoint:
        """The best checkpoint's content; with `training`, last.pt's (+ resume state)."""
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        ckpt = Checkpoint.from_dict(
            {
                **self.meta,
                "threshold": float(threshold),
                "metrics": metrics,
                "epoch": epoch,
                "state_dict": state,
            }
        )
        if training:
            ckpt.training = TrainingState(
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(),
                scaler=self.scaler.state_dict() if self.scaler.is_enabled() else {},
                step=self.step,
                history=self.history,
                best_score=self.best_score,
                stale=self.stale,
                best_path=str(self.best_path),
                elapsed_s=self.elapsed,
            )
        return ckpt

    def _save(self, epoch: int, row: dict[str, Any], improved: bool) -> None:
        if self.dist.is_main:
            threshold = self.best_metrics.get("threshold", 0.5)
            if improved:
                self._checkpoint(epoch, self.best_metrics, threshold).save(self.best_path)
            self._checkpoint(epoch, self.best_metrics, threshold, training=True).save(
                self.last_path
            )
            self.logger.epoch(self.history)
        self.dist.barrier()


def _metrics(row: dict[str, Any]) -> dict[str, float]:
    keys = (
        "train_loss",
        "val_loss",
        "val_iou",
        "val_iou_at_0.5",
        "val_precision",
        "val_recall",
        "threshold",
    )
    return {k: float(row[k]) for k in keys if row.get(k) is not None}


def _f(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.4f}"
