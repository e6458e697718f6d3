"""predict --prob-out/--mask-out (one path per output, as QGIS Processing names them) and
SIGTERM (a Cancel button) leaving no partial output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from helpers import REPO

from geoseg.cli.main import cli


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from fake_models import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def random_scene(factory, size=128, name="scene.tif"):
    return factory(np.random.default_rng(1).integers(0, 255, (3, size, size), np.uint8), name)


def test_explicit_output_paths(tmp_path, geotiff_factory, tiny_ckpt):
    scene = random_scene(geotiff_factory)
    prob, mask = tmp_path / "a" / "p.tif", tmp_path / "b" / "m.tiff"
    result = CliRunner().invoke(
        cli,
        [
            "predict",
            str(scene),
            "-m",
            str(tiny_ckpt),
            "--tile",
            "64",
            "--prob-out",
            str(prob),
            "--mask-out",
            str(mask),
        ],
    )
    assert result.exit_code == 0, result.output
    for path, dtype in ((prob, "uint8"), (mask, "uint8")):
        with rasterio.open(path) as src, rasterio.open(scene) as ref:
            assert src.crs == ref.crs and src.transform == ref.transform
            assert src.shape == ref.shape and src.dtypes[0] == dtype
    assert sorted(p.name for p in scene.parent.iterdir()) == ["a", "b", "scene.tif"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--prob-out", "{d}/p.png"], "outputs are GeoTIFFs; give a .tif name"),
        (["--prob-out", "{d}/x.tif", "--mask-out", "{d}/x.tif"], "need different names"),
        (["--mask-out", "{scene}"], "is an input of this command"),
    ],
)
def test_bad_explicit_outputs_are_one_line_errors(
    tmp_path, geotiff_factory, tiny_ckpt, args, message
):
    scene = random_scene(geotiff_factory)
    before = scene.read_bytes()
    args = [a.format(d=tmp_path, scene=scene) for a in args]
    result = CliRunner().invoke(cli, ["predict", str(scene), "-m", str(tiny_ckpt), *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert scene.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".tif", ".png") and p != scene]


def test_sigterm_removes_partial_outputs(tmp_path, geotiff_factory, tiny_ckpt):
    scene = random_scene(geotiff_factory, size=1536)
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "geoseg",
            "predict",
            str(scene),
            "-m",
            str(tiny_ckpt),
            "--tile",
            "64",
            "--overlap",
            "8",
            "-o",
            str(out),
            "--vector",
            str(out / "roads.gpkg"),
            "--progress",
            "json",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        for line in proc.stderr:  # wait until tiles are being written
            if line.startswith("{") and json.loads(line).get("progress", 0) > 0:
                break
        assert proc.poll() is None, "predict ended before it could be interrupted"
        assert [p for p in out.iterdir() if ".partial-" in p.name]  # it is writing
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        assert proc.wait(60) == 1
    finally:
        proc.kill()
        proc.wait()
    assert "terminated; no partial output was kept" in rest
    assert not out.exists()  # nothing kept; the folder made for the run is gone too
