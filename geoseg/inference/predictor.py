"""Batched tile inference: test-time augmentation, AMP, copies that overlap compute.

:class:`TilePredictor` runs a batch of normalised tiles through the model under
``torch.inference_mode`` (channels_last; AMP where the device has it) and averages the
sigmoid probabilities over the TTA views (``none``: 1, ``flip``: the 4 flips, ``d4``: the
8 rotations/reflections D-LinkNet used), mapping each view back before averaging.

:meth:`TilePredictor.submit` starts a batch and :meth:`TilePredictor.result` collects it.
On CUDA each of :attr:`TilePredictor.depth` slots owns pinned host buffers and a CUDA
stream: the batch is copied into pinned memory, sent with a non-blocking copy, run, and
its probabilities copied back non-blocking, all queued on the slot's stream, so the copy
of one batch overlaps the compute of the other while the host prepares the next.  On
other devices a batch is computed at submit (depth 1).  With ``compile`` the network
runs through :class:`~geoseg.inference.compiled.CompiledModel` (``torch.compile``).  Tiles are read by
:mod:`geoseg.inference.bands`.
"""

from __future__ import annotations

import numpy as np

from geoseg.device import as_input, autocast, prepare_model
from geoseg.errors import ConfigError
from geoseg.inference.bands import Batch  # noqa: F401  (re-exported: the batch type)
from geoseg.inference.compiled import CompiledModel
from geoseg.inference.profile import StageTimes

TTA_MODES = ("none", "flip", "d4")

# A view is (k, flip): rotate by k quarter turns after an optional left-right flip.
_VIEWS = {
    "none": [(0, False)],
    "flip": [(0, False), (0, True), (2, True), (2, False)],  # id, lr, ud, both
    "d4": [(k, f) for f in (False, True) for k in range(4)],
}


def tta_views(mode: str) -> list[tuple[int, bool]]:
    if mode not in _VIEWS:
        raise ConfigError(f"unknown TTA mode {mode!r} (use one of {', '.join(TTA_MODES)})")
    return _VIEWS[mode]


class _Slot:
    """CUDA only: a stream, pinned host buffers and timing events for one batch."""

    def __init__(self, torch, device) -> None:
        self.stream = torch.cuda.Stream(device)
        self.host_in = None
        self.host_out = None
        self.events = [torch.cuda.Event(enable_timing=True) for _ in range(4)]
        self.n = 0


class _Done:
    """A batch already computed (devices without asynchronous copies)."""

    def __init__(self, probs) -> None:
        self.probs = probs


class TilePredictor:
    """Run batches of normalised tiles through a logits model, returning probabilities."""

    def __init__(
        self,
        model,
        device,
        tta: str = "none",
        amp: bool = True,
        times: StageTimes | None = None,
        depth: int | None = None,
        compile: bool = False,
    ) -> None:
        import torch  # lazy: torch takes seconds to load

        self.views = tta_views(tta)
        self.device = device
        self.amp = amp
        self.model = prepare_model(model, device).eval()
        #: what runs the batches: the model, or with `compile` its torch.compile'd form
        self.net = CompiledModel(self.model) if compile else self.model
        self.times = times or StageTimes()
        self._torch = torch
        self.cuda = device.type == "cuda"
        #: batches that may be in flight at once (submitted, result not yet taken):
        #: 2 on CUDA (one copying while the other computes), else 1
        self.depth = max(1, depth or (2 if self.cuda else 1))
        self._slots = [_Slot(torch, device) for _ in range(self.depth)] if self.cuda else []
        self._norms: dict = {}  # id(normalizer) -> (normalizer, device tensors, clip)

    def __call__(self, images):
        """(B,C,t,t) float32 normalised tiles -> (B,t,t) float32 road probabilities."""
        return self.result(self.submit(images))

    def _forward(self, x):
        """Device tensor (B,C,t,t) -> (B,t,t) float32 probabilities on the device."""
        torch = self._torch

        x = as_input(x)
        total = None
        with torch.inference_mode(), autocast(self.device, enabled=self.amp):
            for k, flip in self.views:
                view = torch.flip(x, (-1,)) if flip else x
                view = torch.rot90(view, k, (-2, -1)) if k else view
                logits = self.net(view)
                if isinstance(logits, (tuple, list)):  # models with auxiliary heads
                    logits = logits[0]
                prob = torch.sigmoid(logits.float())
                prob = torch.rot90(prob, -k, (-2, -1)) if k else prob
                prob = torch.flip(prob, (-1,)) if flip else prob
                total = prob if total is None else total + prob
        out = total / len(self.views) if len(self.views) > 1 else total
        if out.ndim != 4 or out.shape[1] != 1 or out.shape[-2:] != x.shape[-2:]:
            raise ValueError(
                f"model returned shape {tuple(out.shape)}; "
                f"expected (B, 1, {x.shape[-2]}, {x.shape[-1]})"
            )
        return out[:, 0]

    def _normalize(self, x, normalizer):
        """Raw tiles on the device -> the network input, channels_last float32: exactly
        :class:`~geoseg.normalize.Normalizer`'s float32 operations, in place."""
        torch = self._torch
        key = id(normalizer)
        if key not in self._norms:
            shape = (1, -1, 1, 1)
            low = np.asarray(normalizer.low, np.float32)
            high = np.asarray(normalizer.high, np.float32)
            span = np.maximum(high - low, np.float32(1e-6))
            info = np.iinfo(str(x.dtype).replace("torch.", ""))
            # (x - low) / span already lies in [0, 1] when [low, high] spans the dtype
            clip = bool((low > info.min).any() or (high < info.max).any())
            params = [
                torch.from_numpy(np.ascontiguousarray(a, np.float32)).view(shape).to(self.device)
                for a in (low, span, normalizer.mean, normalizer.std)
            ]
            self._norms[key] = (normalizer, params, clip)
        _, (low, span, mean, std), clip = self._norms[key]
        y = torch.empty(
            x.shape, dtype=torch.float32, device=x.device, memory_format=torch.channels_last
        )
        y.copy_(x)
        y.sub_(low).div_(span)
        if clip:
            y.clamp_(0.0, 1.0)
        return y.sub_(mean).div_(std)

    def submit(self, images, normalizer=None):
        """Start predicting a (B,C,t,t) batch; pass the handle to :meth:`result`.

        `images` are normalised float32 tiles, or raw uint8 tiles with the
        :class:`~geoseg.normalize.Normalizer` to apply on the device.  At most
        :attr:`depth` handles may be outstanding; results may be taken in any order."""
        if not self.cuda:
            torch = self._torch
            with self.times.stage("h2d"):
                x = torch.from_numpy(images).to(self.device)
            if normalizer is not None:
                with self.times.stage("prepare"):
                    x = self._normalize(x, normalizer)
            with self.times.stage("compute"):
                out = self._forward(x)
            with self.times.stage("d2h"):
                probs = out.cpu().numpy()
            return _Done(probs)
        return self._submit_cuda(images, normalizer)

    def _submit_cuda(self, images, normalizer):
        torch = self._torch
        free = [s for s in self._slots if not s.n]
        if not free:
            raise RuntimeError("more batches in flight than the predictor's depth")
        slot = free[0]
        n = images.shape[0]
        with self.times.stage("prepare"):
            if (
                slot.host_in is None
                or slot.host_in.shape[0] < n
                or tuple(slot.host_in.shape[1:]) != images.shape[1:]
                or slot.host_in.dtype != torch.from_numpy(images[:0]).dtype
            ):
                slot.host_in = torch.empty(
                    images.shape, pin_memory=True, dtype=torch.from_numpy(images[:0]).dtype
                )
            host_in = slot.host_in[:n]
            host_in.copy_(torch.from_numpy(images))  # pageable -> pinned, on the host
        stream = slot.stream
        stream.wait_stream(torch.cuda.current_stream(self.device))
        start, copied, computed, returned = slot.events
        with torch.cuda.stream(stream):
            start.record(stream)
            x = host_in.to(self.device, non_blocking=True)
            copied.record(stream)
            if normalizer is not None:
                x = self._normalize(x, normalizer)
            out = self._forward(x)
            computed.record(stream)
            shape = (n, *out.shape[1:])
            if (
                slot.host_out is None
                or slot.host_out.shape[0] < n
                or tuple(slot.host_out.shape[1:]) != shape[1:]
            ):
                slot.host_out = torch.empty(shape, dtype=torch.float32, pin_memory=True)
            slot.host_out[:n].copy_(out, non_blocking=True)
            returned.record(stream)
        slot.n = n
        return slot

    def result(self, handle):
        """(B,t,t) float32 probabilities of a submitted batch (waits for it)."""
        if isinstance(handle, _Done):
            return handle.probs
        slot = handle
        start, copied, computed, returned = slot.events
        returned.synchronize()
        self.times.add("h2d", start.elapsed_time(copied) / 1000)
        self.times.add("compute", copied.elapsed_time(computed) / 1000)
        self.times.add("d2h", computed.elapsed_time(returned) / 1000)
        probs = slot.host_out[: slot.n].numpy().copy()  # the pinned buffer is reused
        slot.n = 0
        return probs
