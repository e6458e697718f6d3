"""geoseg: road mapping from satellite and aerial GeoTIFFs."""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Public entry points, imported lazily so `import geoseg` (and `geoseg --help`)
# stays fast and does not pull in torch until a model is needed.
_LAZY = {
    "GeoSegError": "geoseg.errors",
    "predict_scene": "geoseg.predict",
    "load_checkpoint": "geoseg.checkpoint",
    "Checkpoint": "geoseg.checkpoint",
    "vectorize_mask": "geoseg.vectorize",
    "write_roads": "geoseg.io.vector",
    "run_batch": "geoseg.batch",
    "evaluate_pair": "geoseg.evaluate",
    "evaluate_pairs": "geoseg.evaluate",
    "apls": "geoseg.metrics.apls",
    "train_model": "geoseg.train.api",
    "TrainResult": "geoseg.train.loop",
    "compare_models": "geoseg.compare",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geoseg' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = ["__version__", *_LAZY]
