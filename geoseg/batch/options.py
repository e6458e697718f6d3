"""The options of one batch run as the manifest records them, and when a record's options
are the same as this run's.

A scene is finished only if its record was written with the same options
(:meth:`geoseg.batch.manifest.Manifest.is_finished`).  The options are compared as they
*take effect*, not as they were written: a ``tile``/``overlap``/``tta``/``threshold`` of
None (not given) is the checkpoint's value, else the built-in default (the one settings
rule, :func:`geoseg.inference.settings.resolve_settings`), so a record written by an older
release (which wrote the defaults, ``tile: 512, overlap: 64, tta: "none"``) and one
written now (``None``) are the same when they come to the same settings.  In the
``predict`` and ``vectorize`` option mappings a None value is the same as an absent key
(both mean the function's default), and an absent mapping the same as ``{}``.  Options
that did not exist when a record was written (``radiometry``, ``resample_to_training``:
the imagery-domain rule) are *not* taken as their defaults: those scenes were mapped
without that rule and are redone.  Any other difference — another threshold, tile,
model or vectorize option — redoes the scene.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from geoseg.errors import GeoSegError
from geoseg.inference.settings import resolve_settings

SETTINGS = ("tile", "overlap", "tta", "threshold")  # resolved by the one settings rule
MAPPINGS = ("predict", "vectorize")  # option mappings: None values = absent keys


def record_params(
    model: Any,
    *,
    tta: str | None,
    tile: int | None,
    overlap: int | None,
    threshold: float | None,
    predict_options: Mapping[str, Any] | None,
    radiometry: str,
    resample_to_training: bool,
    vectorize_options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The options as a scene's record stores them (JSON values; the model by identity,
    :func:`geoseg.batch.api.model_identity`)."""
    params = {
        "model": model,
        "tta": tta,
        "tile": tile,
        "overlap": overlap,
        "threshold": threshold,
        "predict": dict(predict_options or {}),
        "radiometry": radiometry,
        "resample_to_training": resample_to_training,
        "vectorize": dict(vectorize_options or {}),
    }
    loaded: dict[str, Any] = json.loads(json.dumps(params, default=str))
    return loaded


def effective(params: Mapping[str, Any], checkpoint: Any) -> dict[str, Any] | None:
    """`params` as they take effect with `checkpoint` (what it says about tile, TTA and
    threshold; None: a bare module or an injected predictor): settings resolved, None
    values dropped from the option mappings.  None when the recorded settings are not
    valid ones (such a record is never the same as a run's)."""
    try:
        settings = resolve_settings(checkpoint, **{k: params.get(k) for k in SETTINGS})
    except GeoSegError:
        return None
    out = {k: v for k, v in params.items() if k not in SETTINGS}
    out.update(tile=settings.tile, overlap=settings.overlap, tta=settings.tta)
    out["threshold"] = settings.threshold
    for key in MAPPINGS:
        given = params.get(key) or {}
        if not isinstance(given, Mapping):
            return None
        out[key] = {k: v for k, v in given.items() if v is not None}
    return out


class RunOptions:
    """This run's options (``params``, as records store them) and the one test of whether
    a record was written with the same effective options (:meth:`same`).

    `checkpoint` gives what the model says about its settings; it is called at most
    once, and only when a record's options differ as written (a first rerun of a folder
    written by an older release), so a rerun that finds every scene finished as written
    does not load the model."""

    def __init__(self, params: dict[str, Any], checkpoint: Callable[[], Any]) -> None:
        self.params = params
        self._checkpoint = checkpoint

    @functools.cached_property
    def checkpoint(self) -> tuple[bool, Any]:
        """(loaded, the checkpoint); a model that cannot be loaded is (False, None): no
        record is then the same (the run itself reports the model's problem)."""
        try:
            return True, self._checkpoint()
        except GeoSegError:
            return False, None

    def same(self, recorded: Any) -> bool:
        """True when `recorded` (a record's params) are this run's options, as written
        or as they take effect (see the module docstring)."""
        if recorded == self.params:
            return True
        if not isinstance(recorded, Mapping) or set(recorded) - set(self.params):
            return False  # an option this release does not know
        if any(k not in recorded for k in self.params if k not in SETTINGS + MAPPINGS):
            return False  # an option the record's release did not have
        loaded, checkpoint = self.checkpoint
        mine = effective(self.params, checkpoint) if loaded else None
        return mine is not None and effective(recorded, checkpoint) == mine
