"""Architecture registry and :func:`create_model` (timm's ``_registry`` idea).

An architecture is a builder ``fn(encoder, **kw) -> SegmentationModel`` registered with
``@register_arch``; :func:`create_model` builds the encoder, calls the builder and
stamps the model with what a checkpoint needs to rebuild it.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Callable

from torch import nn

from geoseg.errors import ModelError
from geoseg.models.base import SegmentationModel
from geoseg.models.encoders import build_encoder, normalization

log = logging.getLogger(__name__)

Builder = Callable[..., SegmentationModel]
ARCHS: dict[str, Builder] = {}


def register_arch(fn_or_name: Builder | str | None = None):
    """Register a builder under its function name (``@register_arch``) or a given one
    (``@register_arch("name")``)."""

    def deco(fn: Builder, name: str | None = None) -> Builder:
        name = name or fn.__name__
        if name in ARCHS and ARCHS[name] is not fn:
            log.warning("architecture %r is registered again; the new builder replaces it", name)
        ARCHS[name] = fn
        return fn

    if callable(fn_or_name):
        return deco(fn_or_name)
    return lambda fn: deco(fn, fn_or_name)


def list_archs() -> list[str]:
    """Registered architecture names, sorted."""
    return sorted(ARCHS)


def create_model(
    arch: str,
    backbone: str,
    in_channels: int = 3,
    encoder_weights: str | Path | None = None,
    **kw,
) -> SegmentationModel:
    """Build `arch` over the timm `backbone` (an alias such as ``xception`` or any timm name).

    `encoder_weights`: None (random init, no network access), ``"imagenet"`` (timm
    download) or a local state-dict file of the timm model.  Extra keyword arguments go
    to the architecture's builder and are recorded in ``model.model_kwargs``.
    """
    builder = ARCHS.get(arch)
    if builder is None:
        raise ModelError(f"unknown architecture {arch!r}: use one of {', '.join(list_archs())}")
    if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels < 1:
        raise ModelError(f"in_channels must be a positive integer, got {in_channels!r}")
    try:
        inspect.signature(builder).bind(None, **kw)
    except TypeError as exc:
        raise ModelError(f"architecture {arch!r} does not accept these options ({exc})") from None
    encoder = build_encoder(backbone, in_channels, encoder_weights)
    model = builder(encoder, **kw)
    model.arch = arch
    model.backbone = backbone
    model.in_channels = in_channels
    model.norm_mean, model.norm_std = normalization(encoder, in_channels)
    model.model_kwargs = dict(kw)
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all of them, or only those with requires_grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
