"""`geoseg models --available` / `geoseg models pull`: a catalog served from 127.0.0.1."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import time
import zipfile

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from helpers import write_geotiff

from geoseg.cli.main import cli


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def server(tmp_path):
    """A static file server on 127.0.0.1 over tmp_path/www; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def smp_weights(tmp_path_factory):
    """A small smp Linknet (timm test_resnet encoder) state dict file and its sha256."""
    smp = pytest.importorskip("segmentation_models_pytorch")
    torch.manual_seed(0)
    net = smp.Linknet(encoder_name="tu-test_resnet", encoder_weights=None, classes=1)
    path = tmp_path_factory.mktemp("weights") / "tiny_linknet.pth"
    torch.save(net.state_dict(), path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def write_catalog(path, url, sha256, member=None):
    entry = {
        "name": "tiny-roads",
        "arch": "linknet",
        "backbone": "test_resnet",
        "format": "smp",
        "file": "tiny_linknet.pth",
        "url": url,
        "sha256": sha256,
        "licence": "CC0 (test)",
        "training_data": "none (random weights)",
        "gsd_m": 0.5,
        "bands": "RGB",
        "reported": "nothing (test entry)",
    }
    if member:
        entry["member"] = member
    path.write_text(yaml.safe_dump({"models": [entry]}), encoding="utf-8")
    return path


def error_line(res) -> str:
    """The one error sentence of a failed command (INFO lines aside), no traceback."""
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, res.output
    return errors[0]


def pull(*args, env=None):
    return CliRunner().invoke(cli, ["models", "pull", "tiny-roads", *args], env=env)


def test_pull_downloads_verifies_and_stores_where_backbone_finds_it(
    tmp_path, server, smp_weights, monkeypatch
):
    from geoseg.checkpoint import find_latest, load_checkpoint

    root, base = server
    weights, sha = smp_weights
    (root / "tiny_linknet.pth").write_bytes(weights.read_bytes())
    monkeypatch.setenv(
        "GEOSEG_CATALOG",
        str(write_catalog(tmp_path / "catalog.yaml", f"{base}/tiny_linknet.pth", sha)),
    )
    models = tmp_path / "models"
    res = pull("--models-dir", str(models))
    assert res.exit_code == 0, res.output
    stored = find_latest(models, "linknet", "test_resnet")
    assert stored is not None and str(stored) in res.output
    assert sorted(p.name for p in models.iterdir()) == [stored.name]  # no leftovers
    ckpt = load_checkpoint(stored)
    assert ckpt["source"]["sha256"] == sha and ckpt["source"]["verified_sha256"] is True
    assert ckpt["source"]["catalog"] == "tiny-roads"
    assert ckpt["model_kwargs"] == {"style": "smp"}

    image = np.random.default_rng(0).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    scene = write_geotiff(tmp_path / "s.tif", image)
    res = CliRunner().invoke(
        cli,
        [
            "predict",
            str(scene),
            "--backbone",
            "test_resnet",
            "--models-dir",
            str(models),
            "-o",
            str(tmp_path / "out"),
            "--tile",
            "64",
            "--device",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "s_mask.tif").is_file()


def test_corrupted_download_fails_the_sha256_check_and_stores_nothing(
    tmp_path, server, smp_weights, monkeypatch
):
    root, base = server
    weights, sha = smp_weights
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / "tiny_linknet.pth").write_bytes(bytes(data))
    monkeypatch.setenv(
        "GEOSEG_CATALOG",
        str(write_catalog(tmp_path / "catalog.yaml", f"{base}/tiny_linknet.pth", sha)),
    )
    models = tmp_path / "models"
    res = pull("--models-dir", str(models))
    line = error_line(res)
    assert "sha256 mismatch" in line and sha in line
    assert not models.exists()  # nothing stored, not even an empty models folder


def test_no_published_hash_needs_sha256_or_from(tmp_path, server, smp_weights, monkeypatch):
    root, base = server
    weights, sha = smp_weights
    (root / "tiny_linknet.pth").write_bytes(weights.read_bytes())
    monkeypatch.setenv(
        "GEOSEG_CATALOG",
        str(write_catalog(tmp_path / "catalog.yaml", f"{base}/tiny_linknet.pth", None)),
    )
    models = tmp_path / "models"
    res = pull("--models-dir", str(models))
    assert res.exit_code == 1 and "--sha256 HEX" in res.output and "--from FILE" in res.output
    assert not any(models.glob("*")) if models.exists() else True
    wrong = pull("--models-dir", str(models), "--sha256", "0" * 64)
    assert wrong.exit_code == 1 and "sha256 mismatch" in wrong.output
    assert not models.exists()  # nothing stored, not even an empty models folder
    ok = pull("--models-dir", str(models), "--sha256", sha.upper())
    assert ok.exit_code == 0, ok.output
    by_hand = pull("--models-dir", str(models), "--from", str(weights))
    assert by_hand.exit_code == 0, by_hand.output
    assert len(list(models.glob("linknet_test_resnet_*.pt"))) == 2  # never overwritten


def test_zip_archive_member(tmp_path, server, smp_weights, monkeypatch):
    root, base = server
    weights, sha = smp_weights
    with zipfile.ZipFile(root / "folder.zip", "w") as zf:
        zf.writestr("README.txt", "weights inside")
        zf.write(weights, "shared/tiny_linknet.pth")
    monkeypatch.setenv(
        "GEOSEG_CATALOG",
        str(
            write_catalog(
                tmp_path / "catalog.yaml", f"{base}/folder.zip", sha, member="tiny_linknet.pth"
            )
        ),
    )
    res = pull("--models-dir", str(tmp_path / "models"))
    assert res.exit_code == 0, res.output


def test_offline_fails_at_once_in_one_sentence(tmp_path, smp_weights, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    weights, sha = smp_weights
    monkeypatch.setenv(
        "GEOSEG_CATALOG",
        str(
            write_catalog(
                tmp_path / "catalog.yaml", f"http://127.0.0.1:{port}/tiny_linknet.pth", sha
            )
        ),
    )
    start = time.perf_counter()
    res = pull("--models-dir", str(tmp_path / "models"))
    assert time.perf_counter() - start < 10
    line = error_line(res)
    assert "cannot download" in line and "--from FILE" in line
    assert not (tmp_path / "models").exists()  # nothing stored, not even an empty folder


def test_unknown_name_lists_the_catalog(tmp_path, monkeypatch, smp_weights):
    monkeypatch.setenv("GEOSEG_CATALOG", str(write_catalog(tmp_path / "c.yaml", "x", None)))
    res = CliRunner().invoke(cli, ["models", "pull", "nope"])
    assert res.exit_code == 1 and "tiny-roads" in res.output


def test_available_lists_the_packaged_dlinknet_release(monkeypatch):
    monkeypatch.delenv("GEOSEG_CATALOG", raising=False)
    res = CliRunner().invoke(cli, ["models", "--available"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "dlinknet34-deepglobe" in out and "dlinknet/resnet34" in out
    assert "none published" in out and "0.5 m" in out and "0.6466" in out
    assert "MIT" in out and "DeepGlobe" in out


def test_models_table_still_works_as_a_group():
    res = CliRunner().invoke(
        cli, ["models", "--arch", "dlinknet", "--backbone", "resnet34", "--size", "64"]
    )
    assert res.exit_code == 0, res.output
    assert "dlinknet  resnet34" in res.output and "31.10" in res.output
