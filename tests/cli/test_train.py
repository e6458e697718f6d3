"""`geoseg train` from the command line, including torchrun with gloo on CPU."""

import os
import subprocess
import sys

import torch
import yaml
from click.testing import CliRunner

from geoseg.checkpoint import load_checkpoint
from geoseg.cli.main import cli

TINY = {
    "model": {"arch": "linknet", "backbone": "test_resnet"},
    "data": {"tile": 32, "batch_size": 2, "samples_per_epoch": 8},
    "train": {"epochs": 1},
}


def _config(tmp_path, **train):
    cfg = {**TINY, "train": {**TINY["train"], **train}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _scene_args(pairs):
    args = []
    for scene, mask in pairs:
        args += ["--scenes", str(scene), "--masks", str(mask)]
    return args


def _run_args(tmp_path) -> list[str]:
    """Checkpoints into tmp_path/models, the run folder tmp_path/run, on the CPU."""
    return [
        "--models-dir",
        str(tmp_path / "models"),
        "-o",
        str(tmp_path / "run"),
        "--device",
        "cpu",
    ]


def test_train_command_writes_best_checkpoint_and_logs(road_scenes, tmp_path):
    pairs = road_scenes(2, size=64)
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "-c",
            str(_config(tmp_path)),
            *_scene_args(pairs),
            "--epochs",
            "2",
            *_run_args(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    (ckpt,) = (tmp_path / "models").glob("linknet_test_resnet_*.pt")
    assert f"best checkpoint: {ckpt}" in result.output and "val IoU" in result.output
    data = load_checkpoint(ckpt)
    assert data["config"]["train"]["epochs"] == 2  # the override is what was trained
    assert data["config"]["data"]["scenes"] == [str(s) for s, _ in pairs]
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == 3

    # --resume without -c continues with the run's own config (and scenes) for one more epoch.
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--resume",
            str(tmp_path / "run" / "last.pt"),
            "--epochs",
            "3",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 3
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == 4
    assert len(list((tmp_path / "models").glob("*.pt"))) == 1


def test_bad_input_is_one_line_without_traceback(road_scenes, tmp_path):
    ((scene, _),) = road_scenes(1, size=64)
    result = CliRunner().invoke(
        cli, ["train", "-c", str(_config(tmp_path)), "--scenes", str(scene), "--device", "cpu"]
    )
    assert result.exit_code == 1
    assert "Error: data.scenes: each scene needs a mask raster" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["train", "-c", str(_config(tmp_path)), "--epochs", "0"])
    assert result.exit_code == 1 and "train.epochs: must be at least 1" in result.output


def test_torchrun_two_processes_gloo_two_steps_one_checkpoint(road_scenes, tmp_path):
    pairs = road_scenes(2, size=64)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "geoseg",
        "train",
        "-c",
        str(_config(tmp_path, max_steps=2, epochs=5)),
        *_scene_args(pairs),
        *_run_args(tmp_path),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    ckpts = list((tmp_path / "models").iterdir())
    assert len(ckpts) == 1, ckpts  # only rank 0 writes
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert last["step"] == 2 and last["epoch"] == 1  # 2 steps, then stop
    assert out.stdout.count("best checkpoint:") == 1
