"""torchrun / DistributedDataParallel plumbing.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) training joins a process
group — NCCL when each rank has a GPU, gloo on CPU — and wraps the model in
DistributedDataParallel; only rank 0 writes checkpoints and logs.  Without torchrun
everything here is a no-op, so the same code trains on one device.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch

from geoseg.device import resolve_device

log = logging.getLogger(__name__)


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # we created the process group, so we destroy it

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def mean(self, value: float) -> float:
        """Average a Python number over ranks."""
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self._comm_device())
        torch.distributed.all_reduce(t)
        return float(t.item()) / self.world_size

    def any(self, flag: bool) -> bool:
        """True on every rank when `flag` is true on one (e.g. a NaN loss)."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self._comm_device())
        torch.distributed.all_reduce(t)
        return bool(t.item() > 0)

    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def close(self) -> None:
        if self.owns_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def setup(device: str = "auto") -> DistContext:
    """Join the torchrun process group when there is one; pick each rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(device=resolve_device(device))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    base = resolve_device(device)
    if base.type == "cuda":
        dev = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        dev, backend = base, "gloo"
    owns = False
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend=backend)
        owns = True
    log.info("rank %d/%d on %s (%s)", rank, world, dev, backend)
    return DistContext(rank=rank, world_size=world, device=dev, owns_group=owns)
