"""Up-front memory checks: a tile, batch or sample size that cannot fit is refused before
any work, with the memory it would need.

The network's activation sizes are measured once with forward hooks on a small probe
tile and scaled by area (convolutional activations grow with the pixel count).
Inference needs at least its largest activation for the whole batch at once (a lower
bound: a size refused here can never run); training keeps every activation for the
backward pass, so it needs at least their sum.  Available memory is the CUDA device's
free memory, or the machine's MemAvailable.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from geoseg.errors import ConfigError

log = logging.getLogger(__name__)

PROBE = 64  # px: the probe tile's side


@dataclass(frozen=True)
class ActivationProfile:
    """Bytes of activations per probe tile: the largest one and the sum of all."""

    largest: int
    total: int

    def scaled(self, tile: int, batch: int) -> tuple[int, int]:
        factor = (tile / PROBE) ** 2 * batch
        return int(self.largest * factor), int(self.total * factor)


# module -> {in_channels: profile}: each module is probed once, so scenes in flight that
# share a module (geoseg.batch.inflight) never add hooks to it under another's forward
_PROFILES: weakref.WeakKeyDictionary[Any, dict[int, ActivationProfile]] = (
    weakref.WeakKeyDictionary()
)
_PROFILES_LOCK = threading.Lock()


def activation_profile(module, in_channels: int) -> ActivationProfile:
    """`module`'s activation sizes on one ``PROBE``² fp32 tile (CPU, no grad), measured
    once per module and band count."""
    with _PROFILES_LOCK:
        try:
            cached = _PROFILES.get(module, {}).get(in_channels)
        except TypeError:  # not weak-referenceable: measured every time
            cached = None
        if cached is None:
            cached = _measure(module, in_channels)
            try:
                _PROFILES.setdefault(module, {})[in_channels] = cached
            except TypeError:
                pass
        return cached


def _measure(module, in_channels: int) -> ActivationProfile:
    import torch  # lazy: torch takes seconds to load

    sizes: list[int] = []

    def hook(_mod, _inp, out):
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                sizes.append(t.numel() * 4)

    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    device = (
        next(module.parameters()).device
        if any(True for _ in module.parameters())
        else torch.device("cpu")
    )
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(1, in_channels, PROBE, PROBE, device=device))
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    return ActivationProfile(max(sizes, default=0), sum(sizes))


def available_bytes(device) -> int:
    """Free memory on `device` (a torch.device): CUDA free memory, else MemAvailable."""
    if getattr(device, "type", str(device)) == "cuda":
        import torch  # lazy: torch takes seconds to load

        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_fits(
    module,
    in_channels: int,
    tile: int,
    batch: int,
    device,
    *,
    training: bool,
    extra_bytes: int = 0,
    what: str = "tile",
) -> None:
    """ConfigError naming the sizes when `batch` tiles of `tile`² cannot fit on `device`."""
    profile = activation_profile(module, in_channels)
    largest, total = profile.scaled(tile, batch)
    need = (total if training else largest) + batch * in_channels * tile * tile * 4
    need += extra_bytes
    have = available_bytes(device)
    log.debug("memory: need >= %s, available %s", gib(need), gib(have))
    if need > have:
        purpose = "training" if training else "prediction"
        raise ConfigError(
            f"{what} {tile} px with batch size {batch} needs at least {gib(need)} for "
            f"{purpose} but {gib(have)} is available on {device}; use a smaller {what} or "
            "batch size"
        )
