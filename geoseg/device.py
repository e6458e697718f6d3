"""Device selection and mixed precision, shared by training and prediction."""

from __future__ import annotations

import contextlib
import functools
import logging
from pathlib import Path

from geoseg.errors import GeoSegError

log = logging.getLogger(__name__)


def resolve_device(name: str = "auto"):
    """'auto' -> CUDA when available, else CPU; otherwise a validated torch.device."""
    import torch  # lazy: torch takes seconds to load

    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise GeoSegError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GeoSegError(f"device {name!r} requested but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GeoSegError(
                f"device {name!r} requested but only {torch.cuda.device_count()} GPU(s) exist"
            )
    return device


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True on CPUs that compute bf16 in hardware (x86 AMX-BF16 or AVX512-BF16 flags).

    There oneDNN runs bf16 convolutions natively: measured on a Xeon with AMX, one
    thread, D-LinkNet-ResNet34 on 4×256² — a training step 0.72 s instead of 1.61 s,
    inference 0.14 s instead of 0.44 s.  Elsewhere bf16 would be emulated (slower), so
    the CPU stays in fp32.
    """
    try:
        text = Path(cpuinfo).read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool({"amx_bf16", "avx512_bf16"} & set(line.split(":", 1)[-1].split()))
    return False


def amp_dtype(device):
    """Mixed-precision dtype for `device`, or None for full fp32.

    CUDA: bf16 where the GPU supports it, else fp16.  CPU: bf16 where the CPU computes
    it natively (:func:`cpu_has_native_bf16`), else None.
    """
    import torch  # lazy: torch takes seconds to load

    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def autocast(device, enabled: bool = True):
    """A torch.autocast context in :func:`amp_dtype` precision; a no-op without one."""
    import torch  # lazy: torch takes seconds to load

    dtype = amp_dtype(device)
    if not enabled or dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def prepare_model(model, device):
    """Move to `device` in channels_last memory format.

    channels_last is faster on CUDA (tensor cores) and on the CPU as well: measured here,
    a LinkNet-ResNet18 training step on 8×256² tiles took 3.1 s instead of 7.9 s, and
    inference 10–30 % less time, with identical values to ~1e-7.
    """
    import torch  # lazy: torch takes seconds to load

    return model.to(device).to(memory_format=torch.channels_last)


def as_input(x):
    """A batch in the memory format `prepare_model` gives the network (channels_last)."""
    import torch  # lazy: torch takes seconds to load

    return x.contiguous(memory_format=torch.channels_last)
