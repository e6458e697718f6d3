"""Small torch models for prediction tests (stand-ins until real tiny models are used).

`PixelModel` is the "identity" model of the stitching tests: its logits are a fixed
per-pixel function of the input, so stitched predictions must equal that function applied
to the whole scene.  `TinyNet` is a real (random, seeded) 3×3 conv net.
"""

from __future__ import annotations

import sys
import types

import torch
from torch import nn


class PixelModel(nn.Module):
    """logits = Σ_c w_c·x_c − 0.1 (w fixed): a pointwise function of the input."""

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.norm_mean = [0.5] * in_channels
        self.norm_std = [0.25] * in_channels
        self.register_buffer("w", torch.linspace(0.5, 1.5, in_channels).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).sum(1, keepdim=True) - 0.1


def pixel_model_numpy(normalized):
    """What PixelModel + sigmoid gives for a normalised (C, H, W) array (float64)."""
    import numpy as np

    w = np.linspace(0.5, 1.5, normalized.shape[0]).reshape(-1, 1, 1)
    return 1 / (1 + np.exp(-((normalized * w).sum(0) - 0.1)))


class TinyNet(nn.Module):
    """conv3×3 → ReLU → conv1×1: a real network with a receptive field (seeded weights)."""

    def __init__(self, in_channels: int = 3, arch: str = "linknet", backbone: str = "tiny") -> None:
        super().__init__()
        self.arch, self.backbone, self.in_channels = arch, backbone, in_channels
        self.norm_mean = ([0.485, 0.456, 0.406] * 4)[:in_channels]
        self.norm_std = ([0.229, 0.224, 0.225] * 4)[:in_channels]
        self.model_kwargs: dict = {}
        self.body = nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def fake_create_model(arch, backbone, in_channels=3, encoder_weights=None, **kw):
    return TinyNet(in_channels, arch, backbone)


def install(monkeypatch) -> None:
    """Make `geoseg.models.create_model` build TinyNet (models land on another branch)."""
    module = types.ModuleType("geoseg.models")
    module.create_model = fake_create_model
    monkeypatch.setitem(sys.modules, "geoseg.models", module)


def save_tiny_checkpoint(path, arch="linknet", backbone="tiny", in_channels=3, bands=None,
                         threshold=0.5, seed=0):
    from geoseg.checkpoint import save_checkpoint
    from geoseg.normalize import Normalizer

    torch.manual_seed(seed)
    net = fake_create_model(arch, backbone, in_channels)
    norm = Normalizer.for_dtype("uint8", net.norm_mean, net.norm_std)
    return save_checkpoint(path, {
        "arch": arch, "backbone": backbone, "in_channels": in_channels, "bands": bands,
        "normalizer": norm.to_dict(), "tile": 64, "threshold": threshold,
        "model_kwargs": {}, "state_dict": net.state_dict(),
    })
