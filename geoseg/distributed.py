"""This process's place in a ``torchrun`` job: one :class:`DistContext` for train and batch.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) :func:`distributed` joins the
process group for the duration of a ``with`` block — NCCL when each rank has a GPU, gloo on
CPU — and gives each rank its device (``cuda:LOCAL_RANK`` for CUDA).  A group the caller
already initialised is reused and left alone.  Without torchrun the context is rank 0 of 1
and every collective is the identity, so the same code runs on one device.

The group is a control plane: training averages numbers and agrees on flags
(:meth:`DistContext.mean`, :meth:`DistContext.any`; DDP moves the gradients), batch
broadcasts the plan and gathers the ranks' reports (:meth:`DistContext.broadcast`,
:meth:`DistContext.all_gather`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from geoseg.device import resolve_device
from geoseg.errors import GeoSegError

log = logging.getLogger(__name__)

# ranks may wait long for the slowest one (a batch rank with the largest scenes)
TIMEOUT = _dt.timedelta(hours=72)


def env_ranks() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment, else (0, 1, 0)."""

    def get(key: str, default: int) -> int:
        try:
            return int(os.environ.get(key, default))
        except ValueError:
            raise GeoSegError(
                f"environment variable {key}={os.environ[key]!r} is not a number"
            ) from None

    return get("RANK", 0), get("WORLD_SIZE", 1), get("LOCAL_RANK", 0)


def rank_device(device: str | None, local_rank: int = 0) -> torch.device:
    """The device of the rank with `local_rank`: `device` as :func:`geoseg.device.resolve_device`
    reads it ('auto' = CUDA when present), a CUDA device without an index becoming
    ``cuda:LOCAL_RANK`` (one GPU per rank, wrapping around when there are fewer GPUs)."""
    base = resolve_device(device or "auto")
    if base.type == "cuda" and base.index is None:
        return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    return base


@dataclass
class DistContext:
    """This process's rank in a torchrun job (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False  # we initialised the process group, so we destroy it

    @property
    def active(self) -> bool:
        """More than one rank: collectives go through the process group."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes shared outputs (checkpoints, logs, the merge)."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank (any picklable value)."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order (also a barrier)."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def mean(self, value: float) -> float:
        """`value` averaged over the ranks."""
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def any(self, flag: bool) -> bool:
        """True on every rank when `flag` is true on one (e.g. a NaN loss)."""
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self._comm_device())
        dist.all_reduce(t)
        return bool(t.item() > 0)

    def _comm_device(self) -> torch.device:
        # NCCL reduces CUDA tensors only; gloo CPU ones
        return self.device if self.device.type == "cuda" else torch.device("cpu")


@contextlib.contextmanager
def distributed(device: str | None = "auto") -> Iterator[DistContext]:
    """Join torchrun's process group (gloo on CPU, nccl on GPU) for the block.

    Without torchrun (``WORLD_SIZE`` unset or 1) this is a single-process context on
    `device`.  A group already initialised by the caller is reused and left alone; one
    initialised here is destroyed on leaving.
    """
    rank, world, local = env_ranks()
    ctx = DistContext(rank, world, local, rank_device(device, local))
    if world <= 1:
        yield ctx
        return
    if not dist.is_initialized():
        on_gpu = ctx.device.type == "cuda"
        if on_gpu:
            torch.cuda.set_device(ctx.device)
        dist.init_process_group(backend="nccl" if on_gpu else "gloo", timeout=TIMEOUT)
        ctx.owns_group = True
    ctx.rank, ctx.world_size = dist.get_rank(), dist.get_world_size()
    log.info("rank %d/%d on %s (%s)", ctx.rank, ctx.world_size, ctx.device, dist.get_backend())
    try:
        yield ctx
    finally:
        if ctx.owns_group and dist.is_initialized():
            dist.destroy_process_group()
