"""Trained checkpoints hold only plain data; a pickle that would run code is refused."""

import os

import pytest
import torch

from geoseg.checkpoint import load_checkpoint
from geoseg.errors import CheckpointError


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # what a malicious checkpoint does: run code on unpickling
        return (os.system, (f"touch {self.marker}",))


def test_tampered_checkpoint_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "linknet_resnet18_evil.pt"
    torch.save(
        {
            "format": "geoseg.checkpoint",
            "arch": "linknet",
            "backbone": "resnet18",
            "in_channels": 3,
            "normalizer": {},
            "state_dict": {},
            "x": _Payload(marker),
        },
        evil,
    )
    with pytest.raises(CheckpointError, match="linknet_resnet18_evil.pt: refused to load"):
        load_checkpoint(evil)
    assert not marker.exists()
