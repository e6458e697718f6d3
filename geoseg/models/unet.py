"""Unet (Ronneberger et al. 2015) over any timm encoder.

Decoder: from the deepest map, repeatedly upsample x2 (nearest), concatenate the encoder
map of that stride when there is one, and apply 2 x (conv3x3-BN-ReLU), down to stride 1;
then a 3x3 conv to 1 channel.  VGG-16 (the seed's Unet-VGG16) provides a stride-1 map,
so every step has a skip; ResNets start at stride 2 and the last step has none.

Two options reproduce segmentation_models_pytorch's ``Unet`` exactly (weights imported
with ``geoseg models import --format smp``): ``full_res_skip=False`` never uses a
stride-1 skip (smp drops the input-resolution feature) and ``center=True`` adds smp's
VGG centre block (2 x conv3x3-BN-ReLU on the deepest map).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from geoseg.errors import ModelError
from geoseg.models.base import SegmentationModel
from geoseg.models.blocks import ConvBnReLU
from geoseg.models.encoders import Encoder
from geoseg.models.registry import register_arch


class UnetBlock(nn.Sequential):
    """2 x conv3x3-BN-ReLU on the upsampled map concatenated with its skip."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__(ConvBnReLU(cin + cskip, cout), ConvBnReLU(cout, cout))


class UnetDecoder(nn.Module):
    """Upsample + concat + 2 conv per stride step, deepest map to stride 1."""

    def __init__(
        self,
        encoder: Encoder,
        decoder_channels: tuple[int, ...],
        center: bool = False,
        full_res_skip: bool = True,
    ) -> None:
        super().__init__()
        steps = int(round(math.log2(encoder.output_stride)))
        if len(decoder_channels) != steps:
            raise ModelError(
                f"decoder_channels needs {steps} values for backbone {encoder.timm_name}, "
                f"got {len(decoder_channels)}"
            )
        # last feature of each reduction below the deepest (timm orders shallow -> deep)
        by_reduction = {r: i for i, r in enumerate(encoder.reductions[:-1])}
        if not full_res_skip:
            by_reduction.pop(1, None)
        deepest = encoder.channels[-1]
        self.center = (
            nn.Sequential(ConvBnReLU(deepest, deepest), ConvBnReLU(deepest, deepest))
            if center
            else nn.Identity()
        )
        self.skip_indices: list[int | None] = []
        blocks = []
        cin = encoder.channels[-1]
        for step, cout in enumerate(decoder_channels):
            idx = by_reduction.get(encoder.output_stride >> (step + 1))
            self.skip_indices.append(idx)
            blocks.append(UnetBlock(cin, 0 if idx is None else encoder.channels[idx], cout))
            cin = cout
        self.blocks = nn.ModuleList(blocks)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        x = self.center(feats[-1])
        stages = [x]
        for block, idx in zip(self.blocks, self.skip_indices):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            if idx is not None:
                x = torch.cat([x, feats[idx]], dim=1)
            x = block(x)
            stages.append(x)
        return stages


@register_arch
def unet(
    encoder: Encoder,
    decoder_channels: tuple[int, ...] | None = None,
    center: bool = False,
    full_res_skip: bool = True,
) -> SegmentationModel:
    """Unet; default decoder channels 256, 128, 64, 32, 16 (halving, at least 16).

    `center`: smp's VGG centre block on the deepest map; `full_res_skip=False`: no
    stride-1 skip (smp's layout).
    """
    if decoder_channels is None:
        steps = int(round(math.log2(encoder.output_stride)))
        decoder_channels = tuple(max(16, 256 >> i) for i in range(steps))
    decoder = UnetDecoder(
        encoder,
        tuple(int(c) for c in decoder_channels),
        center=center,
        full_res_skip=full_res_skip,
    )
    head = nn.Conv2d(decoder_channels[-1], 1, 3, padding=1)
    return SegmentationModel(encoder, decoder, head)
