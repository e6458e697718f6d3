"""A checkpoint is validated on load: a bad one is refused in one sentence naming the file.

:func:`validate_checkpoint` is called by :func:`geoseg.checkpoint.load_checkpoint` on every
checkpoint geoseg reads (predict, batch, evaluate, resume, imports) — on the file's dict,
upgraded to the current schema, before it becomes a :class:`geoseg.checkpoint.Checkpoint` —
so a checkpoint that would silently give empty masks or garbage never reaches a model:

- ``arch`` is a registered architecture and ``backbone`` a known alias or timm model;
- ``in_channels`` is a positive integer, ``bands`` (when given) names that many bands;
- the ``normalizer`` has one finite low < high and std > 0 per model channel;
- ``threshold`` (when given) is a number strictly between 0 and 1;
- ``state_dict`` holds tensors, every floating one finite (no NaN / inf weights);
- the optional ``imagery`` record (:mod:`geoseg.radiometry`) has one 2/98 % pair per band.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from geoseg.errors import CheckpointError, ModelError
from geoseg.models import ARCHS, list_archs
from geoseg.models.encoders import resolve_backbone
from geoseg.normalize import Normalizer


def _finite_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _check_model(data: Mapping[str, Any], where: str) -> int:
    arch, backbone = data["arch"], data["backbone"]
    if not isinstance(arch, str) or arch not in ARCHS:
        raise CheckpointError(
            f"{where}: unknown architecture {arch!r} in the checkpoint "
            f"(geoseg knows {', '.join(list_archs())})"
        )
    if not isinstance(backbone, str):
        raise CheckpointError(f"{where}: the checkpoint's backbone {backbone!r} is not a name")
    try:
        resolve_backbone(backbone)
    except ModelError:
        raise CheckpointError(
            f"{where}: unknown backbone {backbone!r} in the checkpoint "
            "(not a geoseg alias nor a timm model)"
        ) from None
    channels = data["in_channels"]
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise CheckpointError(f"{where}: in_channels must be a positive integer, got {channels!r}")
    return channels


def _check_bands(data: Mapping[str, Any], channels: int, where: str) -> None:
    norm = data["normalizer"]
    try:
        norm = Normalizer.from_dict(norm)
    except Exception:  # missing keys, non-numbers, unequal lengths
        raise CheckpointError(
            f"{where}: the normaliser is malformed (it needs low, high, mean "
            "and std with one number per band)"
        ) from None
    if norm.bands != channels:
        raise CheckpointError(
            f"{where}: the normaliser has {norm.bands} band(s) but the model "
            f"takes {channels} input channel(s)"
        )
    values = norm.low + norm.high + norm.mean + norm.std
    if not all(math.isfinite(v) for v in values):
        raise CheckpointError(f"{where}: the normaliser holds NaN or infinite values")
    if any(hi <= lo for lo, hi in zip(norm.low, norm.high)) or any(s <= 0 for s in norm.std):
        raise CheckpointError(
            f"{where}: the normaliser needs low < high and std > 0 "
            f"for every band (low {list(norm.low)}, high {list(norm.high)}, "
            f"std {list(norm.std)})"
        )
    bands = data.get("bands")
    if bands is not None:
        ok = isinstance(bands, (list, tuple)) and all(
            isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in bands
        )
        if not ok:
            raise CheckpointError(f"{where}: bands must be 1-based band numbers, got {bands!r}")
        if len(bands) != channels:
            raise CheckpointError(
                f"{where}: the checkpoint reads {len(bands)} band(s) "
                f"{list(bands)} but the model takes {channels} channel(s)"
            )


def _check_threshold(data: Mapping[str, Any], where: str) -> None:
    threshold = data.get("threshold")
    if threshold is None:
        return
    if not _finite_number(threshold) or not 0.0 < float(threshold) < 1.0:
        raise CheckpointError(
            f"{where}: threshold {threshold!r} is not a probability strictly between 0 and 1"
        )


def _check_weights(data: Mapping[str, Any], where: str) -> None:
    state = data["state_dict"]
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{where}: the checkpoint holds no weights (state_dict is empty)")
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{where}: weight {name!r} is not a tensor")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"{where}: weight {name!r} holds NaN or infinite values "
                "(training diverged?); the checkpoint is unusable"
            )


def _check_imagery(data: Mapping[str, Any], channels: int, where: str) -> None:
    record = data.get("imagery")
    if not record:
        return
    ok = isinstance(record, dict)
    if ok:
        low, high, gsd = record.get("low"), record.get("high"), record.get("gsd_m")
        ok = (
            isinstance(low, list)
            and isinstance(high, list)
            and len(low) == len(high) == channels
            and all(_finite_number(v) for v in low + high)
            and (gsd is None or (_finite_number(gsd) and gsd > 0))
        )
    if not ok:
        raise CheckpointError(
            f"{where}: the training imagery record is malformed (it needs "
            f"low/high with one number per band for {channels} band(s) and a "
            "positive gsd_m or none)"
        )


def validate_checkpoint(data: Mapping[str, Any], where: str) -> None:
    """Raise :class:`CheckpointError` naming `where` when `data` cannot give true results."""
    channels = _check_model(data, where)
    _check_bands(data, channels, where)
    _check_threshold(data, where)
    _check_imagery(data, channels, where)
    _check_weights(data, where)
