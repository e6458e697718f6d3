"""A user's file at an output path is never replaced, and outputs are checked before any
work (export, models import, train, evaluate reports); geoseg's own earlier outputs may
be replaced.  Two runs never write the same output at once (geoseg.io.lock)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from geoseg.checkpoint import FORMAT
from geoseg.errors import OutputError
from geoseg.inference.onnx import ONNX_FORMAT
from geoseg.io import provenance
from geoseg.io.lock import FolderLock, OutputLock, hold_outputs
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
    assert "not a folder" in result.output or "is not writable" in result.output
    assert f"{first}" in result.output
    assert (tmp_path / "afile").read_bytes() == MINE
    assert sorted(p.name for p in (tmp_path / "ro").iterdir()) == []


def test_output_lock_refuses_a_second_holder_and_leaves_nothing(tmp_path):
    target = tmp_path / "out" / "a.tif"
    with hold_outputs([target, tmp_path / "out" / "b.tif"], "predict"):
        with pytest.raises(OutputError, match=r"a\.tif: another geoseg run is writing"):
            OutputLock(target, "predict").acquire()
        other = OutputLock(tmp_path / "out" / "c.tif", "predict").acquire()  # another file
        other.release()
    # the lock files are removed, and so is the folder made for them (left empty)
    assert not (tmp_path / "out").exists()
    with hold_outputs([target], "predict"):  # free again
        assert (tmp_path / "out").is_dir()


def test_a_lock_held_by_another_process_is_named(tmp_path):
    target = tmp_path / "a.tif"
    code = (
        "import sys, time; from geoseg.io.lock import OutputLock; "
        f"OutputLock({str(target)!r}, 'predict').acquire(); print('held', flush=True); "
        "sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match=rf"pid {child.pid}"):
            OutputLock(target, "vectorize").acquire()
    finally:
        child.stdin.close()
        child.wait(30)
    OutputLock(target, "vectorize").acquire().release()  # the holder is gone: free


def test_predict_vectorize_export_refuse_outputs_another_run_writes(tmp_path, geotiff_factory):
    import numpy as np

    ckpt = save_tiny_checkpoint(tmp_path / "m.pt")
    scene = geotiff_factory(np.full((3, 64, 64), 100, np.uint8), "scene.tif")
    out = tmp_path / "out"
    out.mkdir()
    roads = out / "roads.gpkg"
    commands = {
        out / "scene_mask.tif": ["predict", scene, "--model", ckpt, "-o", out, "--device", "cpu"],
        roads: ["vectorize", scene, "-o", roads],
        out / "m.onnx": ["export", ckpt, out / "m.onnx", "--no-check"],
    }
    for target, args in commands.items():
        with OutputLock(target, "other"):
            result = run_cli(*args)
        assert result.exit_code == 1, args
        assert f"{target.name}: another geoseg run is writing this output" in result.output
        assert "geoseg other" in result.output
        assert list(out.iterdir()) == [], args  # nothing written, no lock left


def test_sample_data_refuses_a_folder_another_run_writes(tmp_path):
    folder = tmp_path / "sc"
    with hold_outputs([folder / "manifest.json"], "sample-data"):  # creates the folder
        result = run_cli("sample-data", folder, "--size", 64)
    assert result.exit_code == 1
    assert "manifest.json: another geoseg run is writing this output" in result.output
    assert not folder.exists()  # nothing written; the folder made for the lock is gone


def test_train_refuses_a_run_folder_another_run_writes(road_scenes, tmp_path):
    pairs = road_scenes(1, size=64)
    (tmp_path / "run").mkdir()
    with FolderLock(tmp_path / "run", "train"):
        result = run_cli(*_train_args(tmp_path, pairs))
    assert result.exit_code == 1
    assert "run: in use by another geoseg train" in result.output
    assert not list((tmp_path / "models").glob("*.pt"))
