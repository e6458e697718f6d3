"""The generic segmentation model: encoder ▸ decoder ▸ head in one forward.

Every architecture is a :class:`SegmentationModel` built from an
:class:`~geoseg.models.encoders.Encoder`, a decoder that returns its stage outputs
(coarse to fine; the last one feeds the head) and a 1-channel head.  Inputs of any size
are padded to a multiple of the encoder's output stride and the logits cropped back,
so the output always has the input's height and width (smp's base-model idea).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from geoseg.models.encoders import Encoder


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad bottom/right so H and W are multiples of `multiple` (reflect where possible).

    While exporting to ONNX the pad is always recorded (reflect, zero-width when the size
    is already a multiple), so the exported graph pads whatever size it is given.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    exporting = torch.onnx.is_in_onnx_export()
    if ph == 0 and pw == 0 and not exporting:
        return x
    mode = "reflect" if exporting or (ph < h and pw < w) else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


class SegmentationModel(nn.Module):
    """Encoder ▸ decoder ▸ head; optional auxiliary heads used only in training.

    ``forward(x)`` with ``x`` of shape (B, C, H, W) returns logits (B, 1, H, W).  With
    ``aux_heads`` and in ``train()`` mode it returns ``(logits, [aux_logits, ...])``,
    every auxiliary map upsampled to (B, 1, H, W); ``aux_stages`` names the decoder stage
    each auxiliary head reads.
    """

    # Filled in by geoseg.models.create_model (what a checkpoint needs to rebuild it).
    arch: str
    backbone: str
    in_channels: int
    norm_mean: list[float]
    norm_std: list[float]
    model_kwargs: dict

    def __init__(
        self,
        encoder: Encoder,
        decoder: nn.Module,
        head: nn.Module,
        aux_heads: Sequence[nn.Module] | None = None,
        aux_stages: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.head = head
        self.aux_heads = nn.ModuleList(aux_heads) if aux_heads else None
        self.aux_stages = tuple(aux_stages)
        if len(self.aux_stages) != len(aux_heads or []):
            raise ValueError("one decoder stage index per auxiliary head is required")

    def forward(self, x: torch.Tensor):
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.encoder.output_stride)
        stages = self.decoder(self.encoder(x))
        logits = self.head(stages[-1])[..., :h, :w]
        if self.aux_heads is None or not self.training:
            return logits
        size = x.shape[-2:]
        aux = [
            F.interpolate(head(stages[i]), size=size, mode="bilinear", align_corners=False)[
                ..., :h, :w
            ]
            for head, i in zip(self.aux_heads, self.aux_stages)
        ]
        return logits, aux
