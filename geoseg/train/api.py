"""``train_model``: the one call behind ``geoseg train``.

Builds the model from the config, the datasets (with the normaliser fitted on the
training data and the backbone's mean/std), and runs the :class:`Trainer`; under
``torchrun`` it joins the process group first.  The best checkpoint goes into the
models directory as ``<arch>_<backbone>_<timestamp>.pt`` (where ``geoseg predict
--backbone X`` looks); logs and ``last.pt`` go into the run folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from pathlib import Path

import torch

from geoseg.checkpoint import checkpoint_name, default_models_dir, load_checkpoint
from geoseg.config import RunConfig, config_from_dict
from geoseg.data import build_datasets
from geoseg.distributed import distributed
from geoseg.errors import BandMismatchError
from geoseg.inference.memory import check_fits
from geoseg.io.files import claim_outputs, ensure_writable_dir
from geoseg.io.lock import FolderLock, hold_outputs
from geoseg.models import create_model
from geoseg.models.base import SegmentationModel
from geoseg.radiometry import measure_training
from geoseg.train.logs import RunLogger
from geoseg.train.loop import Trainer, TrainResult, check_resumable

log = logging.getLogger(__name__)


def build_model(cfg: RunConfig) -> SegmentationModel:

    m = cfg.model
    return create_model(
        m.arch, m.backbone, in_channels=m.in_channels, encoder_weights=m.encoder_weights
    )


def train_model(
    cfg: RunConfig,
    *,
    models_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    device: str = "auto",
) -> TrainResult:
    """Train the model that `cfg` describes; return the best checkpoint and history.

    `models_dir` receives the best checkpoint (default: :func:`default_models_dir`);
    `out_dir` receives metrics.csv, curves.png and last.pt (default ``runs/<name>``);
    `resume` is a previous run's ``last.pt`` to continue from.
    """

    cfg = _capped(cfg)
    with distributed(device) as dist, contextlib.ExitStack() as held:
        best_path, run_dir = _output_paths(cfg, models_dir, out_dir, resume)
        if dist.is_main:
            # every file the run writes is checked before any work: a user's
            # metrics.csv or curves.png is refused now, not after training
            claim_outputs(run_outputs(best_path, run_dir))
        torch.manual_seed(cfg.train.seed)
        model = build_model(cfg)
        # a sample/batch size that cannot fit is refused now, with the memory it needs
        check_fits(
            model,
            cfg.model.in_channels,
            cfg.data.tile,
            cfg.data.batch_size,
            dist.device,
            training=True,
            what="data.tile",
        )
        data = build_datasets(
            cfg.data,
            mean=model.norm_mean,
            std=model.norm_std,
            seed=cfg.train.seed,
            augment=cfg.train.augment,
        )
        if data.in_channels != cfg.model.in_channels:
            raise BandMismatchError(
                f"{data.train.sources[0].path}: {data.in_channels} band(s) are used but "
                f"model.in_channels is {cfg.model.in_channels}; set data.bands or "
                "model.in_channels"
            )
        log.info("data: %s", data.summary)
        if dist.is_main:  # one training run writes a run folder at a time
            ensure_writable_dir(best_path.parent)
            held.enter_context(FolderLock(ensure_writable_dir(run_dir), "train"))
            held.enter_context(hold_outputs([best_path], "train"))
        meta = {
            "arch": cfg.model.arch,
            "backbone": cfg.model.backbone,
            "in_channels": cfg.model.in_channels,
            "model_kwargs": dict(getattr(model, "model_kwargs", {}) or {}),
            "bands": list(cfg.data.bands) if cfg.data.bands else None,
            "normalizer": data.normalizer.to_dict(),
            "imagery": measure_training(data.train.sources),  # geoseg.radiometry
            "tile": cfg.data.tile,
            "config": cfg.to_dict(),
        }
        trainer = Trainer(
            model, data.train, data.val, cfg, meta, best_path=best_path, run_dir=run_dir, dist=dist
        )
        if resume is not None:
            trainer.resume(resume)
        return trainer.fit()


def run_outputs(best_path: Path | None, run_dir: Path) -> dict[str | Path, str | None]:
    """The files a training run writes (path -> product kind), for ``claim_outputs``:
    the best checkpoint (when its name is known), and metrics.csv, curves.png and
    last.pt in the run folder."""
    best: dict[str | Path, str | None] = {best_path: "checkpoint"} if best_path else {}
    return {
        **best,
        run_dir / "last.pt": "checkpoint",
        run_dir / RunLogger.CSV_NAME: "report",
        run_dir / RunLogger.PNG_NAME: "report",
    }


def _capped(cfg: RunConfig) -> RunConfig:
    """`cfg` with train.max_steps capped at ``$GEOSEG_MAX_STEPS`` when that is set: a
    budget for every training run of a process tree, which tests use to run the README's
    examples (``make demo``, ``geoseg train``) in seconds, verbatim."""

    cap = os.environ.get("GEOSEG_MAX_STEPS")
    if not cap:
        return cfg
    steps = int(cap)
    current = cfg.train.max_steps
    if current is not None and current <= steps:
        return cfg
    log.info("GEOSEG_MAX_STEPS=%d: training stops after %d steps", steps, steps)
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, max_steps=steps))


def config_from_checkpoint(path: str | Path) -> RunConfig:
    """The RunConfig a checkpoint was trained with (``--resume`` without ``-c``)."""

    return config_from_dict(load_checkpoint(path).config or {}, str(path))


def _output_paths(cfg: RunConfig, models_dir, out_dir, resume) -> tuple[Path, Path]:
    """Best-checkpoint path and run folder; a resumed run keeps both of its own."""
    if resume is not None:
        state = check_resumable(load_checkpoint(resume), resume)  # before any folder is made
        if state.best_path and models_dir is None:
            best = Path(state.best_path)
        else:
            name = Path(state.best_path).name if state.best_path else None
            best = Path(models_dir or default_models_dir()) / (
                name or checkpoint_name(cfg.model.arch, cfg.model.backbone)
            )
        return best, Path(out_dir) if out_dir else Path(resume).parent
    name = checkpoint_name(cfg.model.arch, cfg.model.backbone)
    best = Path(models_dir or default_models_dir()) / name
    return best, Path(out_dir) if out_dir else Path("runs") / Path(name).stem
