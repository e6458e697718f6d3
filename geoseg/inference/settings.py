"""The settings a prediction runs with, by one precedence rule.

For each of tile, TTA, threshold and bands, the value used is:

1. the **explicit option** — a ``predict_scene``/``run_batch`` argument, a CLI flag
   (``--tile``), a config key (``predict.tile``) — when it is given (not None);
2. else **what the checkpoint says** — ``predict_defaults["tile"]`` and
   ``predict_defaults["tta"]`` (imported models: D-LinkNet's 1024 px and d4),
   ``threshold`` (chosen on validation when it was trained) and ``bands``;
3. else the **built-in default** — :class:`~geoseg.io.windows.TileGrid`'s tile
   (:data:`~geoseg.io.windows.DEFAULT_TILE`), TTA none, threshold 0.5, every band.

The overlap is the explicit one, else :func:`~geoseg.io.windows.default_overlap` of the
tile chosen above.  :func:`resolve_settings` is the one place this happens: predict, batch,
compare and the CLI all call it (directly or through :func:`geoseg.predict.predict_scene`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geoseg.errors import ParameterError
from geoseg.inference.predictor import tta_views
from geoseg.io.windows import DEFAULT_TILE, check_tile_overlap, default_overlap

DEFAULT_TTA = "none"
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class PredictSettings:
    """Resolved prediction settings (``bands`` None: every band of the scene)."""

    tile: int
    overlap: int
    tta: str
    threshold: float
    bands: Any = None


def check_threshold(threshold: float) -> None:
    """Road is probability ≥ threshold: it must lie strictly between 0 and 1."""
    if not 0.0 < threshold < 1.0:
        raise ParameterError(f"threshold must be between 0 and 1, got {threshold}", "threshold")


def _field(ckpt: Any, key: str) -> Any:
    """A checkpoint's value for `key` (a loaded checkpoint mapping or an object with the
    attribute); None for anything else (a bare ``nn.Module`` says nothing)."""
    if isinstance(ckpt, Mapping):
        return ckpt.get(key)
    return getattr(ckpt, key, None) if hasattr(ckpt, "predict_defaults") else None


def checkpoint_settings(ckpt: Any) -> dict[str, Any]:
    """What `ckpt` says about tile, tta, threshold and bands (only the keys it gives)."""
    said = dict(_field(ckpt, "predict_defaults") or {})
    found = {k: said[k] for k in ("tile", "tta", "threshold") if said.get(k) is not None}
    for key in ("threshold", "bands"):
        value = _field(ckpt, key)
        if value is not None and value != [] and key not in found:
            found[key] = value
    return found


def resolve_settings(
    ckpt: Any = None,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    tta: str | None = None,
    threshold: float | None = None,
    bands: Any = None,
) -> PredictSettings:
    """Explicit option > the checkpoint's > built-in default, for tile, TTA, threshold and
    bands (see the module docstring); the result obeys the tile rule
    (:func:`~geoseg.io.windows.check_tile_overlap`).  Errors name the parameter."""
    said = checkpoint_settings(ckpt)

    def pick(name: str, value: Any, default: Any) -> Any:
        return value if value is not None else said.get(name, default)

    tile = int(pick("tile", tile, DEFAULT_TILE))
    overlap = default_overlap(tile) if overlap is None else int(overlap)
    check_tile_overlap(tile, overlap)
    tta = str(pick("tta", tta, DEFAULT_TTA))
    try:
        tta_views(tta)
    except ValueError as exc:
        raise ParameterError(f"tta: {exc}", "tta") from None
    threshold = float(pick("threshold", threshold, DEFAULT_THRESHOLD))
    check_threshold(threshold)
    return PredictSettings(tile, overlap, tta, threshold, pick("bands", bands, None))
