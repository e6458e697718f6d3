"""--encoder-weights none|imagenet|FILE: offline, imagenet fails at once with one sentence."""

from __future__ import annotations

import socket
import time

import pytest
import yaml
from click.testing import CliRunner

from geoseg.errors import ModelError
from geoseg.models import weights
from geoseg.models.encoders import build_encoder


def test_parse_encoder_weights():
    assert weights.parse_encoder_weights("none") is None
    assert weights.parse_encoder_weights("NULL") is None
    assert weights.parse_encoder_weights("imagenet") == "imagenet"
    assert weights.parse_encoder_weights("w/r18.pth") == "w/r18.pth"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _offline(monkeypatch, host, port):
    monkeypatch.setattr(weights, "weights_cached", lambda name: False)
    monkeypatch.setattr(weights, "download_host", lambda name: (host, port))


def test_imagenet_offline_fails_at_once(monkeypatch):
    from geoseg.models.encoders import resolve_backbone

    resolve_backbone("resnet18")  # timm imported: time only what the failure costs
    _offline(monkeypatch, "127.0.0.1", _closed_port())  # connection refused
    t0 = time.perf_counter()
    with pytest.raises(
        ModelError,
        match=r"ImageNet weights for resnet18 are not cached and "
        r"127.0.0.1 cannot be reached .*--encoder-weights none",
    ):
        build_encoder("resnet18", encoder_weights="imagenet")
    assert time.perf_counter() - t0 < 2.0


def test_a_host_that_never_answers_hits_the_deadline(monkeypatch):
    server = socket.socket()  # listens but never accepts: a full backlog hangs the connect
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    calls = []

    def slow_connect(address, timeout=None):
        calls.append(timeout)
        time.sleep(5)  # a hanging resolver or a black-holed route
        raise OSError("too late")

    monkeypatch.setattr(weights.socket, "create_connection", slow_connect)
    t0 = time.perf_counter()
    problem = weights.reachable("example.invalid", 443, deadline_s=0.3)
    assert time.perf_counter() - t0 < 1.0
    assert problem == "no answer within 0.3 s" and calls
    server.close()


def test_cached_weights_need_no_network(monkeypatch):
    monkeypatch.setattr(weights, "weights_cached", lambda name: True)
    monkeypatch.setattr(weights, "reachable", lambda *a, **k: pytest.fail("probed the network"))
    weights.check_imagenet_download("resnet18")


def test_train_encoder_weights_option_overrides_the_config(road_scenes, tmp_path, monkeypatch):
    from geoseg.checkpoint import load_checkpoint
    from geoseg.cli.main import cli

    _offline(monkeypatch, "127.0.0.1", _closed_port())
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "model": {"arch": "linknet", "backbone": "resnet18", "encoder_weights": "imagenet"},
                "data": {"tile": 32, "batch_size": 2, "samples_per_epoch": 4},
                "train": {"epochs": 1},
            }
        )
    )
    ((scene, mask),) = road_scenes(1, size=64)
    args = [
        "train",
        "-c",
        str(cfg),
        "--scenes",
        str(scene),
        "--masks",
        str(mask),
        "--models-dir",
        str(tmp_path / "m"),
        "-o",
        str(tmp_path / "run"),
        "--device",
        "cpu",
    ]
    offline = CliRunner().invoke(cli, args)
    assert offline.exit_code == 1
    assert offline.output.count("\n") == 1 and "--encoder-weights none" in offline.output
    assert not (tmp_path / "m").exists()
    scratch = CliRunner().invoke(cli, args + ["--encoder-weights", "none"])
    assert scratch.exit_code == 0, scratch.output
    (ckpt,) = (tmp_path / "m").glob("*.pt")
    assert load_checkpoint(ckpt)["config"]["model"]["encoder_weights"] is None
