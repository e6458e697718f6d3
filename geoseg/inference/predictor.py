"""Batched tile inference: a background reader, test-time augmentation, AMP.

:func:`read_batches` reads and normalises tiles in a background thread (its own dataset
handle; GDAL and numpy release the GIL) and keeps a few batches queued, so the model never
waits on the disk.  :class:`TilePredictor` runs a batch through the model under
``torch.inference_mode`` (channels_last; AMP on CUDA) and averages the sigmoid
probabilities over the TTA views (``none``: 1, ``flip``: the 4 flips, ``d4``: the 8
rotations/reflections D-LinkNet used), mapping each view back before averaging.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from geoseg.errors import ConfigError
from geoseg.inference.tiling import TileGrid
from geoseg.io.raster import Scene, gdal_env, read_window

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


@dataclass
class Batch:
    """Tiles in grid order: offsets, normalised images (B,C,t,t) and validity (B,t,t)."""

    offsets: list[tuple[int, int]]
    images: np.ndarray
    valid: np.ndarray


def read_batches(
    scene: Scene,
    grid: TileGrid,
    batch_size: int,
    normalizer: Callable[[np.ndarray], np.ndarray],
    prefetch: int = 2,
) -> Iterator[Batch]:
    """Yield normalised tile batches in grid order, read ahead by a background thread.

    At most ``prefetch`` batches wait in the queue (bounded memory).  An error in the
    reader (a corrupt block) is re-raised in the caller; closing the generator early
    stops the reader.
    """
    done = object()
    q: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        import rasterio

        try:
            with gdal_env(), rasterio.open(scene.path) as src:
                offsets = list(grid)
                for i in range(0, len(offsets), batch_size):
                    chunk = offsets[i:i + batch_size]
                    tiles = [read_window(src, scene, r, c, grid.tile) for r, c in chunk]
                    images = np.stack([normalizer(t[0]) for t in tiles]).astype(np.float32)
                    valid = np.stack([t[1] for t in tiles])
                    if not put(Batch(chunk, images, valid)):
                        return
            put(done)
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(exc)

    thread = threading.Thread(target=reader, name="geoseg-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


class TilePredictor:
    """Run batches of normalised tiles through a logits model, returning probabilities."""

    def __init__(self, model, device, tta: str = "none", amp: bool = True) -> None:
        import torch

        from geoseg.device import prepare_model

        self.views = tta_views(tta)
        self.device = device
        self.amp = amp
        self.model = prepare_model(model, device).eval()
        self._torch = torch

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(B,C,t,t) float32 normalised tiles -> (B,t,t) float32 road probabilities."""
        torch = self._torch
        from geoseg.device import as_input, autocast

        x = torch.from_numpy(images)
        if self.device.type == "cuda":
            x = x.pin_memory()
        x = x.to(self.device, non_blocking=True)
        x = as_input(x)
        total = None
        with torch.inference_mode(), autocast(self.device, enabled=self.amp):
            for k, flip in self.views:
                view = torch.flip(x, (-1,)) if flip else x
                view = torch.rot90(view, k, (-2, -1)) if k else view
                logits = self.model(view)
                if isinstance(logits, (tuple, list)):  # models with auxiliary heads
                    logits = logits[0]
                prob = torch.sigmoid(logits.float())
                prob = torch.rot90(prob, -k, (-2, -1)) if k else prob
                prob = torch.flip(prob, (-1,)) if flip else prob
                total = prob if total is None else total + prob
        out = total / len(self.views)
        if out.ndim != 4 or out.shape[1] != 1 or out.shape[-2:] != x.shape[-2:]:
            raise ValueError(
                f"model returned shape {tuple(out.shape)}; "
                f"expected (B, 1, {x.shape[-2]}, {x.shape[-1]})"
            )
        return out[:, 0].cpu().numpy()
