"""A checkpoint is validated on load (#12 rule 7): a bad one is one sentence naming the file."""

from __future__ import annotations

import math

import fake_models
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import write_geotiff

from geoseg.checkpoint import load_checkpoint
from geoseg.cli.main import cli
from geoseg.errors import CheckpointError


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return fake_models.save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "good.pt")


def tampered(good, tmp_path, name, change):
    data = torch.load(good, weights_only=True)
    change(data)
    path = tmp_path / name
    torch.save(data, path)
    return path


def _nan_weight(d):
    key = next(k for k, v in d["state_dict"].items() if v.is_floating_point() and v.numel() > 1)
    d["state_dict"][key] = d["state_dict"][key].clone()
    d["state_dict"][key].view(-1)[3] = math.nan
    return key


CASES = [
    (
        "threshold.pt",
        lambda d: d.update(threshold=7.5),
        "threshold 7.5 is not a probability strictly between 0 and 1",
    ),
    ("zero.pt", lambda d: d.update(threshold=0.0), "threshold 0.0 is not a probability"),
    ("nan.pt", _nan_weight, "holds NaN or infinite values"),
    (
        "inf.pt",
        lambda d: d["state_dict"].update(
            {k: torch.full_like(v, math.inf) for k, v in list(d["state_dict"].items())[:1]}
        ),
        "holds NaN or infinite values",
    ),
    (
        "arch.pt",
        lambda d: d.update(arch="segformer9"),
        "unknown architecture 'segformer9' in the checkpoint",
    ),
    (
        "backbone.pt",
        lambda d: d.update(backbone="resnet9000"),
        "unknown backbone 'resnet9000' in the checkpoint",
    ),
    (
        "channels.pt",
        lambda d: d.update(in_channels=4),
        "the normaliser has 3 band(s) but the model takes 4 input channel(s)",
    ),
    (
        "bands.pt",
        lambda d: d.update(bands=[1, 2]),
        "the checkpoint reads 2 band(s) [1, 2] but the model takes 3 channel(s)",
    ),
    (
        "range.pt",
        lambda d: d["normalizer"].update(low=[0.0, 0.0, 0.0], high=[255.0, 0.0, 255.0]),
        "the normaliser needs low < high and std > 0",
    ),
    (
        "imagery.pt",
        lambda d: d.update(imagery={"dtype": "uint8", "low": [1.0], "high": [2.0]}),
        "the training imagery record is malformed",
    ),
]


@pytest.mark.parametrize("name,change,message", CASES, ids=[c[0] for c in CASES])
def test_bad_checkpoints_are_refused_naming_the_file(good, tmp_path, name, change, message):
    path = tampered(good, tmp_path, name, change)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text, text
    assert "\n" not in text


def test_nan_message_names_the_tensor(good, tmp_path):
    keys = []
    path = tampered(good, tmp_path, "nan.pt", lambda d: keys.append(_nan_weight(d)))
    with pytest.raises(CheckpointError, match=f"weight '{keys[0]}' holds NaN"):
        load_checkpoint(path)


def test_good_and_older_checkpoints_still_load(good, tmp_path):
    assert load_checkpoint(good)["threshold"] == 0.5
    # an older checkpoint: no threshold, no bands, no imagery record
    older = tampered(
        good,
        tmp_path,
        "older.pt",
        lambda d: [d.pop(k, None) for k in ("threshold", "bands", "imagery")],
    )
    assert "imagery" not in load_checkpoint(older)


def test_predict_refuses_in_one_line_and_writes_nothing(good, tmp_path):
    """The issue's case: threshold 7.5 gave empty masks and exit 0."""
    scene = write_geotiff(
        tmp_path / "scene.tif",
        np.random.default_rng(0).integers(0, 255, (3, 64, 64)).astype(np.uint8),
    )
    bad = tampered(good, tmp_path, "t75.pt", lambda d: d.update(threshold=7.5))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "predict",
            str(scene),
            "--model",
            str(bad),
            "-o",
            str(out),
            "--tile",
            "64",
            "--overlap",
            "8",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(bad) in lines[0] and "threshold 7.5" in lines[0], lines
    assert not out.exists() or not any(out.iterdir())
