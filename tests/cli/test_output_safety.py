"""A user's file at an output path is never replaced, and outputs are checked before any
work (export, models import, train, evaluate reports); geoseg's own earlier outputs may
be replaced.  Two runs never write the same output at once (geoseg.io.lock)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geoseg.checkpoint import FORMAT
from geoseg.inference.onnx import ONNX_FORMAT
from geoseg.io import provenance
from tests.fake_models import save_tiny_checkpoint
from tests.helpers import run_cli
from tests.tiny_configs import write_tiny_configs

MINE = b"mine\n"


def _user_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MINE)
    return path


def test_format_markers_are_the_checkpoint_and_onnx_ones():
    assert provenance.CHECKPOINT_FORMAT == FORMAT
    assert provenance.ONNX_FORMAT == ONNX_FORMAT


def test_checkpoint_kind_is_read_from_the_file(tmp_path):
    import torch

    ckpt = save_tiny_checkpoint(tmp_path / "m.pt")
    torch.save({"weight": torch.zeros(2)}, tmp_path / "other.pt")
    assert provenance.product_kind(ckpt) == "checkpoint"
    assert provenance.product_kind(tmp_path / "other.pt") is None
    assert provenance.product_kind(_user_file(tmp_path / "text.pt")) is None


def test_export_refuses_a_users_file_and_replaces_its_own(tmp_path):
    pytest.importorskip("onnx")
    ckpt = save_tiny_checkpoint(tmp_path / "m.pt")
    user = _user_file(tmp_path / "user.onnx")
    result = run_cli("export", ckpt, user, "--no-check")
    assert result.exit_code == 1
    assert "user.onnx: already exists and is not written by geoseg" in result.output
    assert user.read_bytes() == MINE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt", "user.onnx"]

    own = tmp_path / "own.onnx"
    assert run_cli("export", ckpt, own, "--no-check").exit_code == 0
    assert provenance.product_kind(own) == "onnx"
    first = own.stat().st_mtime_ns
    assert run_cli("export", ckpt, own, "--no-check").exit_code == 0  # its own: replaced
    assert own.stat().st_mtime_ns != first

    assert run_cli("export", ckpt, user, "--no-check", "--overwrite").exit_code == 0
    assert provenance.product_kind(user) == "onnx"


def test_models_import_refuses_a_users_file(tmp_path):
    smp = pytest.importorskip("segmentation_models_pytorch")
    import torch

    weights = tmp_path / "smp.pth"
    torch.save(smp.Linknet("resnet18", encoder_weights=None).state_dict(), weights)
    user = _user_file(tmp_path / "user.pt")
    result = run_cli("models", "import", weights, "--format", "smp", "-o", user)
    assert result.exit_code == 1
    assert "user.pt: already exists and is not written by geoseg" in result.output
    assert user.read_bytes() == MINE

    own = tmp_path / "own.pt"
    for _ in range(2):  # the second run replaces geoseg's own checkpoint
        assert run_cli("models", "import", weights, "--format", "smp", "-o", own).exit_code == 0
    assert provenance.product_kind(own) == "checkpoint"
    assert (
        run_cli("models", "import", weights, "--format", "smp", "-o", user, "--overwrite").exit_code
        == 0
    )
    assert provenance.product_kind(user) == "checkpoint"


def _train_args(tmp_path, pairs):
    cfg = write_tiny_configs(tmp_path, archs=("linknet",))[0]
    args = ["train", "-c", cfg, "--models-dir", tmp_path / "models", "-o", tmp_path / "run"]
    for scene, mask in pairs:
        args += ["--scenes", scene, "--masks", mask]
    return [*args, "--device", "cpu"]


@pytest.mark.parametrize("name", ["metrics.csv", "last.pt", "curves.png"])
def test_train_refuses_a_users_run_file_before_training(road_scenes, tmp_path, name):
    pairs = road_scenes(1, size=64)
    user = _user_file(tmp_path / "run" / name)
    result = run_cli(*_train_args(tmp_path, pairs))
    assert result.exit_code == 1
    assert f"{name}: already exists and is not written by geoseg" in result.output
    assert "epoch 1" not in result.output  # refused before training
    assert user.read_bytes() == MINE
    assert [p.name for p in (tmp_path / "run").iterdir()] == [name]
    assert not (tmp_path / "models").exists()


def test_train_replaces_its_own_run_files(road_scenes, tmp_path):
    pairs = road_scenes(1, size=64)
    for _ in range(2):
        result = run_cli(*_train_args(tmp_path, pairs))
        assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "models").glob("*.pt"))) >= 1
    for name in ("metrics.csv", "curves.png", "last.pt"):
        assert provenance.product_kind(tmp_path / "run" / name) is not None, name


def test_demo_refuses_a_users_file_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOSEG_MAX_STEPS", "1")
    user = _user_file(tmp_path / "dm" / "predict" / "holdout_prob.tif")
    result = run_cli("demo", tmp_path / "dm", "--sample-dir", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert "holdout_prob.tif: already exists and is not written by geoseg" in result.output
    assert user.read_bytes() == MINE
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "dm").rglob("*")) == [
        "dm/predict",
        "dm/predict/holdout_prob.tif",
    ]


@pytest.mark.parametrize("option", ["--json", "--csv"])
@pytest.mark.parametrize("where", ["afile/r", "afile/deeper/r", "ro/r"])
def test_evaluate_checks_report_locations_before_scoring(geotiff_factory, tmp_path, option, where):
    import numpy as np

    if where.startswith("ro") and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    (tmp_path / "afile").write_bytes(MINE)
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    grid = np.zeros((32, 32), np.uint8)
    grid[10:14] = 1
    pred, truth = geotiff_factory(grid, "pred.tif"), geotiff_factory(grid, "truth.tif")
    out = tmp_path / f"{where}.{option[2:]}"
    result = run_cli("evaluate", pred, truth, option, out)
    assert result.exit_code == 1
    assert "iou" not in result.output  # no score table before the refusal
    first = where.split("/")[0]
    assert "is not a folder" in result.output or "is not writable" in result.output
    assert f"{first}" in result.output
    assert (tmp_path / "afile").read_bytes() == MINE
    assert sorted(p.name for p in (tmp_path / "ro").iterdir()) == []
