"""Torch datasets yielding ``{"image": float (C,H,W), "mask": float (1,H,W)}``.

- :class:`WindowDataset` — training: ``length`` random windows per epoch from big
  scenes (road-weighted, :mod:`geoseg.data.samplers`), or with ``length=None`` one
  window per source (DeepGlobe: every tile once per epoch, a random crop when the
  tile is larger than ``tile``).  Call :meth:`set_epoch` each epoch.
- :class:`GridDataset` — validation: a fixed grid of tiles covering every source.

Both read windows through the sources, pad windows of sources smaller than the tile
(reflection), optionally augment, and normalise with the run's
:class:`~geoseg.normalize.Normalizer` — the same one the checkpoint carries for
prediction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from geoseg.data.augment import Augment
from geoseg.data.samplers import RoadWeightedWindows, grid_windows
from geoseg.data.sources import Source
from geoseg.errors import DataError
from geoseg.io.windows import Window
from geoseg.normalize import Normalizer

if TYPE_CHECKING:
    from torch.utils.data import Dataset
else:
    try:  # a plain base class keeps this module importable for inspection without torch
        from torch.utils.data import Dataset
    except ImportError:  # pragma: no cover
        Dataset = object


class _Base(Dataset):
    def __init__(
        self,
        sources: Sequence[Source],
        tile: int,
        normalizer: Normalizer,
        augment: Optional[Augment] = None,
    ) -> None:
        if not sources:
            raise DataError("the dataset has no images")
        self.sources, self.tile = list(sources), tile
        self.normalizer, self.augment = normalizer, augment
        n = normalizer.bands
        # Rescale-only normaliser: raw -> [0, 1] (augmentation works there), then mean/std.
        self._to_unit = Normalizer(normalizer.low, normalizer.high, (0.0,) * n, (1.0,) * n)
        self._mean = np.asarray(normalizer.mean, np.float32).reshape(-1, 1, 1)
        self._std = np.asarray(normalizer.std, np.float32).reshape(-1, 1, 1)

    def _sample(self, k: int, window: Window, rng: Optional[np.random.Generator]) -> dict:
        import torch  # lazy: torch takes seconds to load

        image, mask = self.sources[k].read(window)
        image, mask = _pad(image, mask, self.tile)
        x = self._to_unit(image)
        if self.augment is not None and rng is not None:
            x, mask = self.augment(x, mask, rng)
        x = (x - self._mean) / self._std
        return {
            "image": torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
            "mask": torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None],
        }


def _pad(image: np.ndarray, mask: np.ndarray, tile: int) -> tuple[np.ndarray, np.ndarray]:
    """Reflect-pad windows of sources smaller than `tile` up to tile x tile."""
    h, w = mask.shape
    if h >= tile and w >= tile:
        return image, mask
    pad = ((0, max(tile - h, 0)), (0, max(tile - w, 0)))
    return np.pad(image, ((0, 0), *pad), mode="symmetric"), np.pad(mask, pad, mode="symmetric")


class WindowDataset(_Base):
    """Random (deterministic per epoch and index) training windows."""

    def __init__(
        self,
        sources: Sequence[Source],
        tile: int,
        normalizer: Normalizer,
        *,
        length: Optional[int],
        road_weight: float = 0.8,
        seed: int = 0,
        augment: Optional[Augment] = None,
    ) -> None:
        super().__init__(sources, tile, normalizer, augment)
        self.length = length
        self.windows = RoadWeightedWindows(self.sources, tile, road_weight if length else 0.0, seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length if self.length is not None else len(self.sources)

    def __getitem__(self, index: int) -> dict:
        if self.length is None:  # one window per source (tile datasets)
            rng = self.windows.rng(self.epoch, index)
            k, window = index, self.windows.window_in(index, rng)
        else:
            k, window = self.windows.draw(self.epoch, index)
            rng = self.windows.rng(self.epoch, index + 1_000_003)
        return self._sample(k, window, rng)


class GridDataset(_Base):
    """Fixed tiles covering every pixel of every source (no augmentation)."""

    def __init__(self, sources: Sequence[Source], tile: int, normalizer: Normalizer) -> None:
        super().__init__(sources, tile, normalizer, None)
        self.items = [(k, w) for k, s in enumerate(self.sources) for w in grid_windows(s, tile)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        k, window = self.items[index]
        return self._sample(k, window, None)
