"""Input normalisation that travels with a model.

A :class:`Normalizer` maps raw band values to the network's input: first a linear
rescale of each band from ``[low, high]`` to ``[0, 1]`` (uint8: 0..255; an 11-bit
uint16 sensor: 0..2047, or percentiles measured on training data), then the
backbone's ``(x - mean) / std`` from its timm pretrained config.  Training stores it
in the checkpoint and prediction applies exactly the same transform.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from geoseg.errors import BandMismatchError

DTYPE_RANGES = {"uint8": (0.0, 255.0), "uint16": (0.0, 65535.0), "int16": (-32768.0, 32767.0)}


@dataclass(frozen=True)
class Normalizer:
    low: tuple[float, ...]
    high: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.mean)
        if not (len(self.low) == len(self.high) == len(self.std) == n):
            raise BandMismatchError("normaliser: low/high/mean/std must have one value per band")

    @property
    def bands(self) -> int:
        return len(self.mean)

    @classmethod
    def for_dtype(cls, dtype: str | np.dtype, mean: list[float], std: list[float]) -> "Normalizer":
        """Rescale by the dtype's full range (floats are assumed to be 0..1 already)."""
        low, high = DTYPE_RANGES.get(str(np.dtype(dtype)), (0.0, 1.0))
        n = len(mean)
        return cls((low,) * n, (high,) * n, tuple(mean), tuple(std))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """(C, H, W) raw values -> float32 network input."""
        if image.shape[0] != self.bands:
            raise BandMismatchError(
                f"image has {image.shape[0]} bands but the model expects {self.bands}"
            )
        shape = (-1, 1, 1)
        low = np.asarray(self.low, np.float32).reshape(shape)
        span = np.maximum(np.asarray(self.high, np.float32).reshape(shape) - low, 1e-6)
        mean = np.asarray(self.mean, np.float32).reshape(shape)
        std = np.asarray(self.std, np.float32).reshape(shape)
        x = (image.astype(np.float32) - low) / span
        return (np.clip(x, 0.0, 1.0) - mean) / std

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Normalizer":
        return cls(*(tuple(float(x) for x in data[k]) for k in ("low", "high", "mean", "std")))
