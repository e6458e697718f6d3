"""Training: losses, the Trainer loop (AMP, DDP, resume) and ``train_model``.

Imported lazily so ``import geoseg.train`` does not pull in torch until used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "train_model": "geoseg.train.api",
    "build_model": "geoseg.train.api",
    "Trainer": "geoseg.train.loop",
    "TrainResult": "geoseg.train.loop",
    "SegmentationLoss": "geoseg.train.losses",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geoseg.train' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = list(_LAZY)
