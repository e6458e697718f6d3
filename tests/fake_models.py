"""Small models for prediction tests.

`PixelModel` is the "identity" model of the stitching tests: its logits are a fixed
per-pixel function of the input, so stitched predictions must equal that function applied
to the whole scene.  `TinyNet` is a (random, seeded) 3×3 conv net with a receptive field.
`save_tiny_checkpoint` writes a real geoseg checkpoint of a tiny timm backbone.
"""

from __future__ import annotations

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
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def save_tiny_checkpoint(
    path,
    arch="linknet",
    backbone="test_resnet",
    in_channels=3,
    bands=None,
    threshold=0.5,
    seed=0,
    normalizer=None,
    tile=64,
):
    """A real geoseg checkpoint of a tiny timm backbone (random, seeded weights).

    `normalizer`: a geoseg.normalize.Normalizer [default: uint8 with the backbone's
    mean/std]; `tile`: the checkpoint's predict tile."""
    from geoseg.checkpoint import save_checkpoint
    from geoseg.models import create_model
    from geoseg.normalize import Normalizer

    torch.manual_seed(seed)
    net = create_model(arch, backbone, in_channels=in_channels)
    norm = normalizer or Normalizer.for_dtype("uint8", net.norm_mean, net.norm_std)
    return save_checkpoint(
        path,
        {
            "arch": arch,
            "backbone": backbone,
            "in_channels": in_channels,
            "bands": bands,
            "normalizer": norm.to_dict(),
            "tile": tile,
            "threshold": threshold,
            "model_kwargs": dict(net.model_kwargs),
            "state_dict": net.state_dict(),
        },
    )


class Brightness(nn.Module):
    """Roads are the bright pixels of the test scenes (easy_road_scene, the batch test
    area): logit > 0 where the mean of the bands is above 0.55."""

    in_channels = 3
    norm_mean = (0.0, 0.0, 0.0)
    norm_std = (1.0, 1.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 40.0 * (x.mean(dim=1, keepdim=True) - 0.55)
