"""Several scenes in flight on one device: a rank's share mapped by N worker threads.

Small scenes leave an accelerator idle between them (opening files, the first row bands,
vectorizing, writing roads).  With ``scenes_in_flight`` N > 1, :func:`map_concurrently`
runs up to N scenes of the share at once, each in its own thread, all sharing the one
loaded model (prediction runs under ``torch.inference_mode`` in eval mode, which keeps no
state between calls; on CUDA each scene's predictor has its own streams, so one scene's
copies and compute overlap another's).  Results come back as scenes complete.

Default (:func:`default_in_flight`): 1 on the CPU (the network already uses every core,
and a second scene only competes for them), 2 on CUDA (while one scene reads, encodes or
vectorizes on the host, the other keeps the GPU busy).

Failure handling is the batch's: a scene's error is recorded by the scene's own function
and the others go on.  An interrupt (^C, SIGTERM) in the calling thread, or an interrupt
raised inside a scene, is delivered to every scene still running (as an asynchronous
exception in its thread, the same class), so each one unwinds exactly as the single
scene of a sequential run does: its temporaries are removed and its record stays
'running' for the next run; then the interrupt propagates to the caller.
"""

from __future__ import annotations

import contextvars
import ctypes
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from geoseg.checkpoint import Checkpoint
from geoseg.device import prepare_model, resolve_device
from geoseg.errors import ConfigError
from geoseg.inference.memory import activation_profile
from geoseg.predict import LoadedModel, load_model

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

JOIN_TIMEOUT_S = 60.0  # how long an interrupt waits for the scenes in flight to unwind


def default_in_flight(device: str | None) -> int:
    """Scenes in flight per device when not chosen: 2 on CUDA, else 1."""
    return 2 if str(device or "").startswith("cuda") else 1


def check_in_flight(n: int | None) -> int | None:

    if n is not None and n < 1:
        raise ConfigError(f"scenes in flight must be at least 1, got {n}")
    return n


def _raise_in(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Raise `exc_type` asynchronously in `thread` (at its next Python instruction)."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type)
        )


def map_concurrently(
    items: Sequence[T],
    fn: Callable[[T], R],
    workers: int,
    on_result: Callable[[int, R], None],
) -> None:
    """Call ``fn(item)`` for every item, `workers` at a time, and ``on_result(index,
    result)`` in the calling thread as each completes.

    Each call runs in a copy of the caller's context (:mod:`contextvars`: the command's
    run scope and input registry go with it).  ``fn`` should record its own failures;
    an exception escaping it (or `on_result`) stops the others (as above) and is
    re-raised here.
    """
    if workers <= 1 or len(items) <= 1:
        for i, item in enumerate(items):
            on_result(i, fn(item))
        return
    todo: queue.Queue = queue.Queue()
    for i, item in enumerate(items):
        todo.put((i, item))
    results: queue.Queue = queue.Queue()
    stop = threading.Event()
    context = contextvars.copy_context()

    def work() -> None:
        while not stop.is_set():
            try:
                i, item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                out = context.copy().run(fn, item)
            except BaseException as exc:  # handed to the caller, re-raised there
                results.put((i, None, exc))
                return
            results.put((i, out, None))

    threads = [
        threading.Thread(target=work, name=f"geoseg-scene-{k}", daemon=True)
        for k in range(min(workers, len(items)))
    ]
    for t in threads:
        t.start()
    received = 0
    try:
        while received < len(items):
            try:
                i, out, exc = results.get(timeout=0.2)
            except queue.Empty:
                if not any(t.is_alive() for t in threads) and results.empty():
                    raise RuntimeError("scene workers stopped without a result") from None
                continue
            received += 1
            if exc is not None:
                raise exc
            on_result(i, out)
    except BaseException as exc:
        stop.set()
        if not isinstance(exc, Exception):  # an interrupt: every scene unwinds like ^C
            for t in threads:
                _raise_in(t, type(exc))
        _join(threads)
        raise
    stop.set()


def _join(threads: list[threading.Thread]) -> None:
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    if alive:
        log.warning("%s still running after the interrupt; left behind", ", ".join(alive))


def shared_model(model: Any, device: str | None = None) -> Any:
    """The network every scene of the batch (and every scene in flight) predicts with,
    built once: a :class:`~geoseg.checkpoint.Checkpoint` becomes a
    :class:`~geoseg.predict.LoadedModel` (which :func:`geoseg.predict.load_model` reuses as
    it is); an ``nn.Module`` or LoadedModel is prepared in place.

    The module is put in eval mode and on `device` in the layout prediction uses
    (:func:`geoseg.device.prepare_model`) here, before any scene starts: each scene's
    own preparation is then a no-op.  Converting the parameters while another scene's
    forward reads them would be a data race (measured: NaN probabilities), and so would
    a probe (:func:`geoseg.inference.memory.check_fits`) switching a module left in
    training mode back to it under another scene's forward."""
    if isinstance(model, Checkpoint):
        model = load_model(model)
    if isinstance(model, LoadedModel):
        _prepared(model.module, device)
        if model.in_channels:
            activation_profile(model.module, int(model.in_channels))  # probed now, not in flight
        return model
    if callable(getattr(model, "eval", None)):
        _prepared(model, device)  # an nn.Module given as the model
        channels = getattr(model, "in_channels", None)
        if channels:
            activation_profile(model, int(channels))
    return model


def _prepared(module: Any, device: str | None) -> Any:
    """`module` in eval mode, moved and laid out for `device` (when given)."""

    if callable(getattr(module, "eval", None)):
        module.eval()
    if device is not None and callable(getattr(module, "to", None)):
        prepare_model(module, resolve_device(device))
    return module
