"""A checkpoint or weights file that is damaged or not torch's at all is refused in one
sentence naming the file (never a KeyError, never weights loaded silently)."""

from __future__ import annotations

import fake_models
import numpy as np
import pytest
from helpers import run_cli

from geoseg.checkpoint import load_checkpoint
from geoseg.errors import CheckpointError
from geoseg.models.importers import read_foreign_state_dict


@pytest.fixture
def tiny(tmp_path):
    return fake_models.save_tiny_checkpoint(tmp_path / "model.pt")


def test_zeroed_bytes_in_a_checkpoint_are_caught_by_crc(tiny, tmp_path):
    data = bytearray(tiny.read_bytes())
    n = len(data) // 2
    data[n : n + 5000] = bytes(5000)
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(damaged)
    message = str(err.value)
    assert message.startswith(f"{damaged}: checkpoint is corrupt (CRC mismatch in data/")
    assert "archive/" not in message  # torch's internal folder name is not shown


def test_an_intact_checkpoint_still_loads(tiny):
    assert load_checkpoint(tiny).arch == "linknet"


@pytest.mark.parametrize("text", ["hello, not a checkpoint\n", "not weights\n", ""])
def test_a_text_file_is_not_a_checkpoint(tmp_path, text):
    path = tmp_path / "hello.pt"
    path.write_text(text)
    with pytest.raises(CheckpointError, match=r"hello\.pt: not a PyTorch checkpoint or weights"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=r"hello\.pt: not a PyTorch checkpoint or weights"):
        read_foreign_state_dict(path)


def test_cli_predict_with_a_text_checkpoint_leaves_nothing(tmp_path, geotiff_factory):
    scene = geotiff_factory(np.zeros((3, 64, 64), np.uint8), "scene.tif")
    model = tmp_path / "hello.pt"
    model.write_text("hello, not a checkpoint\n")
    res = run_cli("predict", scene, "--model", model, "-o", tmp_path / "out")
    assert res.exit_code == 1
    assert res.output.strip() == f"Error: {model}: not a PyTorch checkpoint or weights file"
    assert not (tmp_path / "out").exists()


def test_pull_from_a_text_file_leaves_no_models_folder(tmp_path):
    weights = tmp_path / "hello.th"
    weights.write_text("hello, not a checkpoint\n")
    models = tmp_path / "pm"
    res = run_cli(
        "models", "pull", "dlinknet34-deepglobe", "--from", weights, "--models-dir", models
    )
    assert res.exit_code == 1
    assert f"{weights}: not a PyTorch checkpoint or weights file" in res.output
    assert not models.exists()
