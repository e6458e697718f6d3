"""timm ``features_only`` encoders with exact, aligned feature maps.

Any timm model that supports ``features_only`` is a valid backbone; the paper's four
have short aliases (:data:`BACKBONE_ALIASES`).  Some networks return maps a few pixels
short of the nominal stride — ``legacy_xception`` gives 253/127/64/32/16 for a 512
input instead of 256/128/64/32/16 — which breaks decoders that add or concatenate skips
(segmentation_models_pytorch 0.6 crashes on exactly this).  :class:`Encoder` resizes
every map to ``input // reduction`` so decoders can rely on exact sizes; the model pads
its input to a multiple of :attr:`Encoder.output_stride` first.
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from geoseg.errors import ModelError
from geoseg.models import weights

log = logging.getLogger(__name__)

# The paper's seed backbones: short name -> timm name.
BACKBONE_ALIASES: dict[str, str] = {
    "vgg16": "vgg16",
    "resnet34": "resnet34",
    "resnet101": "resnet101",
    "xception": "legacy_xception",
}

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def resolve_backbone(name: str) -> str:
    """Alias or timm model name -> timm model name; ModelError listing the choices."""
    import timm  # lazy: torch

    timm_name = BACKBONE_ALIASES.get(name, name)
    if isinstance(timm_name, str) and timm.is_model(timm_name):
        return timm_name
    close = difflib.get_close_matches(str(name), list(BACKBONE_ALIASES) + timm.list_models(), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ModelError(
        f"unknown backbone {name!r}: use one of {', '.join(BACKBONE_ALIASES)} "
        f"or any timm model with features_only (see timm.list_models()){hint}"
    )


class Encoder(nn.Module):
    """A timm feature extractor whose maps have exactly ``input_size // reduction`` pixels.

    ``channels`` and ``reductions`` describe the outputs of :meth:`forward`, shallow to
    deep; the input's height and width must be multiples of :attr:`output_stride`.
    """

    def __init__(self, body: nn.Module, timm_name: str) -> None:
        super().__init__()
        self.body = body
        self.timm_name = timm_name
        # timm's FeatureInfo (nn.Module.__getattr__ would type it Tensor | Module)
        info: Any = getattr(body, "feature_info")
        self.channels: list[int] = list(info.channels())
        self.reductions: list[int] = list(info.reduction())
        self.output_stride: int = max(self.reductions)
        cfg = getattr(body, "pretrained_cfg", None) or {}
        self.rgb_mean = [float(v) for v in cfg.get("mean", IMAGENET_MEAN)]
        self.rgb_std = [float(v) for v in cfg.get("std", IMAGENET_STD)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, w = x.shape[-2:]
        out = []
        for feat, r in zip(self.body(x), self.reductions):
            size = (h // r, w // r)
            if tuple(feat.shape[-2:]) != size:
                # legacy_xception & co: stretch a map that is a few pixels short.
                feat = F.interpolate(feat, size=size, mode="bilinear", align_corners=False)
            out.append(feat)
        return out

    def select(self, reductions: list[int]) -> list[int]:
        """Indices of the features with these reductions; ModelError when one is missing."""
        missing = [r for r in reductions if r not in self.reductions]
        if missing:
            raise ModelError(
                f"backbone {self.timm_name} has feature reductions {self.reductions}, "
                f"but this architecture needs {reductions}"
            )
        return [self.reductions.index(r) for r in reductions]


def normalization(encoder: Encoder, in_channels: int) -> tuple[list[float], list[float]]:
    """Per-band mean/std from the timm config; bands beyond RGB get the RGB average."""
    rgb_mean, rgb_std = encoder.rgb_mean[:3], encoder.rgb_std[:3]
    avg_mean, avg_std = sum(rgb_mean) / len(rgb_mean), sum(rgb_std) / len(rgb_std)
    if in_channels == len(rgb_mean):
        return list(rgb_mean), list(rgb_std)
    if in_channels < len(rgb_mean):  # e.g. a single panchromatic band
        return [avg_mean] * in_channels, [avg_std] * in_channels
    extra = in_channels - len(rgb_mean)
    return list(rgb_mean) + [avg_mean] * extra, list(rgb_std) + [avg_std] * extra


def _create_body(timm_name: str, in_channels: int, pretrained: bool, **kw) -> nn.Module:
    import timm  # lazy: torch

    return timm.create_model(
        timm_name, features_only=True, pretrained=pretrained, in_chans=in_channels, **kw
    )


def build_encoder(
    backbone: str, in_channels: int = 3, encoder_weights: str | Path | None = None
) -> Encoder:
    """Build the encoder for `backbone` (alias or timm name).

    `encoder_weights`: None (random init, no network), ``"imagenet"`` (timm download) or
    the path of a local state dict of the timm model (classifier keys may be present).
    """
    timm_name = resolve_backbone(backbone)
    if encoder_weights is None:
        try:
            body = _create_body(timm_name, in_channels, pretrained=False)
        except Exception as exc:  # timm raises assorted types for unsupported features_only
            raise _unusable(backbone, exc) from None
        return _checked(Encoder(body, timm_name), backbone)

    overlay = {}
    if str(encoder_weights) != "imagenet":
        path = Path(encoder_weights).expanduser()
        if not path.is_file():
            raise ModelError(
                f"{path}: encoder weights file not found (use null, imagenet or a file)"
            )
        overlay = {"pretrained_cfg_overlay": {"file": str(path)}}
    else:
        if not weights.weights_cached(timm_name):
            _check_features_only(backbone, timm_name, in_channels)  # the backbone first
            weights.check_imagenet_download(timm_name)  # fails at once when offline (no retries)
            log.info("downloading ImageNet weights for %s (needs internet access)", timm_name)
    try:
        body = _create_body(timm_name, in_channels, pretrained=True, **overlay)
    except Exception as exc:
        _check_features_only(backbone, timm_name, in_channels)
        if overlay:
            raise ModelError(
                f"{encoder_weights}: could not load encoder weights into {timm_name} "
                f"({_first_line(exc)})"
            ) from None
        raise ModelError(
            f"ImageNet weights for {timm_name} could not be downloaded ({_first_line(exc)}); "
            "check the internet connection, or use --encoder-weights none or a local file"
        ) from None
    log.info("encoder %s: loaded %s weights", timm_name, encoder_weights)
    return _checked(Encoder(body, timm_name), backbone)


def _checked(encoder: Encoder, backbone: str) -> Encoder:
    """Only feature pyramids (power-of-two reductions growing with depth) decode cleanly,
    and tiles of any size need a backbone without a fixed input size."""
    cfg = getattr(encoder.body, "pretrained_cfg", None) or {}
    if cfg.get("fixed_input_size"):
        size = "x".join(str(v) for v in cfg.get("input_size", ())[1:])
        raise ModelError(
            f"backbone {backbone!r} only accepts a fixed input size ({size}); "
            "use a convolutional backbone, which works at any tile size"
        )
    red = encoder.reductions
    pyramid = all(r & (r - 1) == 0 for r in red) and all(a < b for a, b in zip(red, red[1:]))
    if not pyramid or encoder.output_stride < 4:
        raise ModelError(
            f"backbone {backbone!r} returns features with reductions {red}; geoseg needs a "
            "feature pyramid (reductions such as 2, 4, 8, 16, 32), as CNN backbones give"
        )
    return encoder


def _check_features_only(backbone: str, timm_name: str, in_channels: int) -> None:
    """Raise ModelError when the backbone itself (not its weights) is the problem."""
    try:
        with torch.device("meta"):
            _create_body(timm_name, in_channels, pretrained=False)
    except Exception as exc:
        raise _unusable(backbone, exc) from None


def _unusable(backbone: str, exc: BaseException) -> ModelError:
    return ModelError(
        f"backbone {backbone!r} cannot be used as an encoder: timm features_only "
        f"failed ({_first_line(exc)})"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
