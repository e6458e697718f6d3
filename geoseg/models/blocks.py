"""Building blocks shared by the architectures.

- :class:`ConvBnReLU`: conv + BatchNorm + ReLU.
- :class:`LinkNetDecoderBlock`: D-LinkNet's decoder block (1x1 C->C/4, 3x3 transposed
  conv x2, 1x1 to the skip's channels; BN + ReLU after each).
- :class:`LinkNetHead`: transposed conv 4x4 stride 2 -> ReLU -> 3x3 conv -> ReLU -> 3x3
  conv to 1 channel (the D-LinkNet final layers).
- :class:`DilatedCenter`: D-LinkNet's centre (DBlock): 3x3 convs with dilations
  1, 2, 4, 8 (, 16) in series; output = x + every stage.
- :class:`CBAM`: channel + spatial attention (Woo et al. 2018), used by AD-LinkNet.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvBnReLU(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class LinkNetDecoderBlock(nn.Sequential):
    """Upsample x2: 1x1 C->C/4, BN, ReLU; 3x3 transposed conv stride 2, BN, ReLU; 1x1 -> out.

    Conv biases are kept as in the reference DinkNet code (the 31.1 M count includes them).
    """

    def __init__(self, cin: int, cout: int) -> None:
        mid = max(cin // 4, 1)
        super().__init__(
            nn.Conv2d(cin, mid, 1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(mid, mid, 3, stride=2, padding=1, output_padding=1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class LinkNetHead(nn.Sequential):
    """Stride-2 map -> full-resolution 1-channel logits.

    The head runs at full resolution with few channels, where oneDNN (CPU) is about twice
    as fast on channels_last tensors; the input is converted (a no-op when it already is,
    as on CUDA with ``prepare_model``).  Values are identical either way.
    """

    def __init__(self, cin: int, mid: int = 32, out_channels: int = 1) -> None:
        super().__init__(
            nn.ConvTranspose2d(cin, mid, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.contiguous(memory_format=torch.channels_last))


class DilatedCenter(nn.Module):
    """D-LinkNet centre: dilated 3x3 convs in series, every stage's output summed with x.

    The receptive field grows with each stage (series) while the sum keeps every scale
    (parallel) — the "series-parallel" dilated block of D-LinkNet/AD-LinkNet.
    """

    def __init__(self, channels: int, dilations: tuple[int, ...] = (1, 2, 4, 8)) -> None:
        super().__init__()
        self.dilations = tuple(int(d) for d in dilations)
        convs = [nn.Conv2d(channels, channels, 3, padding=d, dilation=d) for d in self.dilations]
        for conv in convs:
            assert conv.bias is not None  # Conv2d has a bias unless bias=False
            nn.init.zeros_(conv.bias)
        self.stages = nn.ModuleList(convs)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        y = x
        for conv in self.stages:
            y = self.act(conv(y))
            out = out + y
        return out


class ChannelAttention(nn.Module):
    """Squeeze (avg + max pool) -> shared MLP -> sigmoid gate per channel."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = x.mean(dim=(2, 3), keepdim=True)
        mx = x.amax(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.mlp(avg) + self.mlp(mx))


class SpatialAttention(nn.Module):
    """Channel mean and max -> 7x7 conv -> sigmoid gate per pixel."""

    def __init__(self, kernel: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Sequential):
    """Channel attention followed by spatial attention (Woo et al., ECCV 2018)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__(ChannelAttention(channels, reduction), SpatialAttention())


class AuxHead(nn.Sequential):
    """Deep-supervision head: 3x3 conv-BN-ReLU to a few channels, then 1x1 to logits."""

    def __init__(self, cin: int, mid: int = 32) -> None:
        super().__init__(ConvBnReLU(cin, mid), nn.Conv2d(mid, 1, 1))
