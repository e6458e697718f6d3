"""Measured size and cost of the model zoo (what ``geoseg models`` prints).

Models are built on PyTorch's ``meta`` device and run under
:class:`torch.utils.flop_counter.FlopCounterMode`: parameters are counted and the FLOPs
of a real forward pass are measured from the traced operators, but no memory is
allocated and nothing is computed, so the whole table takes seconds on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
from torch.utils.flop_counter import FlopCounterMode

from geoseg.models.encoders import BACKBONE_ALIASES
from geoseg.models.registry import count_parameters, create_model, list_archs


@dataclass(frozen=True)
class ModelInfo:
    """One row: parameters (all, auxiliary heads included) and inference GFLOPs."""

    arch: str
    backbone: str
    timm_name: str
    params: int
    gflops: float  # 1 multiply-add = 2 FLOPs, batch 1, eval mode, size x size input
    size: int


def measure_model(arch: str, backbone: str, size: int = 1024, in_channels: int = 3) -> ModelInfo:
    """Count parameters and measure forward FLOPs of one model at ``size`` x ``size``."""
    with torch.device("meta"):
        model = create_model(arch, backbone, in_channels=in_channels).eval()
        x = torch.empty(1, in_channels, size, size)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    return ModelInfo(
        arch=arch,
        backbone=backbone,
        timm_name=model.encoder.timm_name,
        params=count_parameters(model),
        gflops=counter.get_total_flops() / 1e9,
        size=size,
    )


def iter_model_table(
    archs: Iterable[str] | None = None, backbones: Iterable[str] | None = None, size: int = 1024
) -> Iterator[ModelInfo]:
    """Rows for every architecture x backbone (default: all archs x the seed backbones)."""
    for arch in list(archs or list_archs()):
        for backbone in list(backbones or BACKBONE_ALIASES):
            yield measure_model(arch, backbone, size)
