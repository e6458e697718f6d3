"""LinkNet, D-LinkNet and AD-LinkNet over any timm encoder.

All three share one decoder: the encoder maps at strides 4, 8, 16 and 32 (``e4`` ...
``e32``) are decoded by LinkNet blocks (:class:`~geoseg.models.blocks.LinkNetDecoderBlock`)
whose outputs are *added* to the skip of the same stride::

    c = centre(e32)                  # identity (LinkNet) or dilated centre (D-/AD-LinkNet)
    d16 = block(c) + e16;  d8 = block(d16) + e8;  d4 = block(d8) + e4;  d2 = block(d4)
    logits = head(d2)                # deconv 4x4 s2 -> ReLU -> conv3x3 -> ReLU -> conv3x3

* **LinkNet** (Chaurasia & Culurciello 2017): no centre.  ``style="smp"`` builds
  segmentation_models_pytorch's ``Linknet`` instead (:class:`SmpLinkNetDecoder`: five
  blocks down to stride 1, the stride-2 skip added too, 4x4 transposed convs, bias-free
  1x1 convs, a 1x1 head), so its weights import exactly.
* **D-LinkNet** (Zhou et al. 2018, DeepGlobe road winner): centre = dilated 3x3 convs
  with dilations 1, 2, 4, 8 in series, output = x + every stage (1, 2, 4, 8, 16 when the
  deepest map has 2048 channels, as the reference DinkNet101).  With ResNet34 this is the
  reference DinkNet34: 31.1 M parameters.
* **AD-LinkNet** (Wu et al., IEEE Access 2019).  The authors' code is not public; this is
  geoseg's interpretation of "D-LinkNet + attention + deep supervision":

  - the same series-parallel dilated centre as D-LinkNet;
  - a CBAM block (channel attention from average- and max-pooled descriptors through a
    shared MLP with reduction 16, then spatial attention from a 7x7 conv over the
    channel mean and max; Woo et al. 2018) on the centre's output and on each decoder
    stage's output after its skip is added (d16, d8, d4, d2);
  - deep supervision: auxiliary heads (conv3x3-BN-ReLU to 32 channels, 1x1 conv to one
    logit) on d16, d8 and d4, bilinearly upsampled to the input size.  In ``train()``
    mode the model returns ``(logits, [aux16, aux8, aux4])``; geoseg's trainer
    (``geoseg.train.losses``) minimises ``loss(logits) + aux_weight * sum(loss(aux_i))``
    with ``aux_weight`` 0.4 by default.  In
    ``eval()`` mode the auxiliary heads are skipped and only the logits are returned.
"""

from __future__ import annotations

import torch
from torch import nn

from geoseg.errors import ModelError
from geoseg.models.base import SegmentationModel
from geoseg.models.blocks import CBAM, AuxHead, DilatedCenter, LinkNetDecoderBlock, LinkNetHead
from geoseg.models.encoders import Encoder
from geoseg.models.registry import register_arch

SKIP_REDUCTIONS = [4, 8, 16, 32]


class LinkNetDecoder(nn.Module):
    """Centre on e32, then four LinkNet blocks with additive skips (stride 32 -> 2).

    ``forward`` returns the stage outputs ``[c, d16, d8, d4, d2]``.
    """

    def __init__(
        self, encoder: Encoder, center: nn.Module | None = None, attention: bool = False
    ) -> None:
        super().__init__()
        self.indices = encoder.select(SKIP_REDUCTIONS)
        c4, c8, c16, c32 = (encoder.channels[i] for i in self.indices)
        self.center = center if center is not None else nn.Identity()
        self.blocks = nn.ModuleList(
            [
                LinkNetDecoderBlock(c32, c16),
                LinkNetDecoderBlock(c16, c8),
                LinkNetDecoderBlock(c8, c4),
                LinkNetDecoderBlock(c4, c4),
            ]
        )
        self.out_channels = [c32, c16, c8, c4, c4]
        if attention:
            self.attention = nn.ModuleList(CBAM(c) for c in self.out_channels)
        else:
            self.attention = nn.ModuleList(nn.Identity() for _ in self.out_channels)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        e4, e8, e16, e32 = (feats[i] for i in self.indices)
        x = self.attention[0](self.center(e32))
        stages = [x]
        for block, att, skip in zip(self.blocks, self.attention[1:], (e16, e8, e4, None)):
            x = block(x)
            if skip is not None:
                x = x + skip
            x = att(x)
            stages.append(x)
        return stages


class SmpLinkNetBlock(nn.Sequential):
    """smp's Linknet block: 1x1 C->C/4, 4x4 transposed conv stride 2, 1x1 -> out.

    BN + ReLU after each; the 1x1 convs have no bias (BN follows), the transposed conv has.
    """

    def __init__(self, cin: int, cout: int) -> None:
        mid = max(cin // 4, 1)
        super().__init__(
            nn.Sequential(
                nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True)
            ),
            nn.Sequential(
                nn.ConvTranspose2d(mid, mid, 4, stride=2, padding=1),
                nn.BatchNorm2d(mid),
                nn.ReLU(inplace=True),
            ),
            nn.Sequential(
                nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
            ),
        )


class SmpLinkNetDecoder(nn.Module):
    """smp's Linknet decoder: blocks from stride 32 to 1, adding the skips of strides
    16, 8, 4 and 2; returns ``[e32, d16, d8, d4, d2, d1]``."""

    def __init__(self, encoder: Encoder, prefinal_channels: int = 32) -> None:
        super().__init__()
        self.indices = encoder.select([2, 4, 8, 16, 32])
        channels = [encoder.channels[i] for i in reversed(self.indices)] + [prefinal_channels]
        self.blocks = nn.ModuleList(
            SmpLinkNetBlock(channels[i], channels[i + 1]) for i in range(len(channels) - 1)
        )
        self.out_channels = channels

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        maps = [feats[i] for i in reversed(self.indices)]  # e32, e16, e8, e4, e2
        x = maps[0]
        stages = [x]
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i + 1 < len(maps):
                x = x + maps[i + 1]
            stages.append(x)
        return stages


def default_dilations(channels: int) -> tuple[int, ...]:
    """1, 2, 4, 8 — plus 16 for 2048-channel (ResNet101/Xception-deep) encoders."""
    return (1, 2, 4, 8, 16) if channels >= 2048 else (1, 2, 4, 8)


def _dilated_center(encoder: Encoder, dilations: tuple[int, ...] | None) -> DilatedCenter:
    channels = encoder.channels[encoder.select([32])[0]]
    return DilatedCenter(channels, tuple(dilations or default_dilations(channels)))


def _linknet(encoder: Encoder, center: nn.Module | None, attention: bool, aux: bool):
    decoder = LinkNetDecoder(encoder, center, attention)
    head = LinkNetHead(decoder.out_channels[-1])
    aux_stages = (1, 2, 3) if aux else ()
    aux_heads = [AuxHead(decoder.out_channels[i]) for i in aux_stages]
    return SegmentationModel(encoder, decoder, head, aux_heads, aux_stages)


@register_arch
def linknet(encoder: Encoder, style: str = "dlinknet") -> SegmentationModel:
    """LinkNet: LinkNet decoder blocks with additive skips, no centre.

    `style`: ``"dlinknet"`` (D-LinkNet's blocks and head) or ``"smp"``
    (segmentation_models_pytorch's Linknet, see :class:`SmpLinkNetDecoder`).
    """
    if style == "smp":
        decoder = SmpLinkNetDecoder(encoder)
        return SegmentationModel(encoder, decoder, nn.Conv2d(decoder.out_channels[-1], 1, 1))
    if style != "dlinknet":
        raise ModelError(f"unknown linknet style {style!r}: use dlinknet or smp")
    return _linknet(encoder, None, attention=False, aux=False)


@register_arch
def dlinknet(encoder: Encoder, dilations: tuple[int, ...] | None = None) -> SegmentationModel:
    """D-LinkNet: LinkNet + series-parallel dilated centre."""
    return _linknet(encoder, _dilated_center(encoder, dilations), attention=False, aux=False)


@register_arch
def adlinknet(
    encoder: Encoder, dilations: tuple[int, ...] | None = None, aux: bool = True
) -> SegmentationModel:
    """AD-LinkNet (geoseg interpretation): D-LinkNet + CBAM attention + deep supervision."""
    return _linknet(encoder, _dilated_center(encoder, dilations), attention=True, aux=aux)
