"""``torch.compile`` for prediction (``--compile``), with a fallback to the plain model.

Compiling takes seconds to minutes (inductor generates and builds kernels; on the CPU
it needs a C++ compiler), so it pays only on large scenes or long batches and is off
by default.  :class:`CompiledModel` compiles lazily at the first batch; if compiling
fails (no compiler, an unsupported operation, an old GPU) it logs one warning and runs
the uncompiled model from then on.  A batch smaller than the largest one seen (the
last of a scene) is padded to that size, so the compiled graph is not rebuilt for it.
Compiled outputs equal the plain model's within floating-point tolerance (kernels fuse
and reorder operations), not bit for bit.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()


class CompiledModel:
    """``model(x)`` through ``torch.compile(model)``, else the model itself."""

    def __init__(self, model: Any) -> None:
        import torch  # lazy: torch takes seconds to load

        self.model = model
        self._torch = torch
        self._compiled: Any = None
        self._failed = False
        self.batch = 0  # largest batch seen: smaller ones are padded to it

    @property
    def active(self) -> bool:
        """False once compiling has failed (the plain model runs)."""
        return not self._failed

    def __call__(self, x: Any) -> Any:
        if self._failed:
            return self.model(x)
        n = int(x.shape[0])
        self.batch = max(self.batch, n)
        if n < self.batch:
            pad = x.new_zeros((self.batch - n, *x.shape[1:]))
            x = self._torch.cat([x, pad]).contiguous(memory_format=self._torch.channels_last)
        try:
            if self._compiled is None:
                with _lock:
                    self._compiled = self._torch.compile(self.model)
            out = self._compiled(x)
        except Exception as exc:  # noqa: BLE001 - any compiler failure: fall back, once
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            log.warning(
                "torch.compile failed (%s%s); predicting with the uncompiled model",
                exc.__class__.__name__,
                f": {text[:200]}" if text else "",
            )
            log.debug("torch.compile failure", exc_info=True)
            self._failed = True
            return self.model(x[:n])
        if n < self.batch:
            out = out[0][:n] if isinstance(out, (tuple, list)) else out[:n]
        return out
