"""Training: losses, the Trainer loop (AMP, DDP, resume) and ``train_model``.

``geoseg.train_model`` is the lazily imported alias of :func:`train_model` (importing
this package imports torch).
"""

from geoseg.train.api import build_model, train_model
from geoseg.train.loop import Trainer, TrainResult
from geoseg.train.losses import SegmentationLoss

__all__ = ["SegmentationLoss", "TrainResult", "Trainer", "build_model", "train_model"]
