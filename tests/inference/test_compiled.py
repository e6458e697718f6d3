"""`predict --compile`: torch.compile'd outputs match the plain model's; a compiler
failure is one warning and the plain model's exact outputs."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import rasterio
import torch

from geoseg.predict import predict_scene
from tests.fake_models import TinyNet
from tests.helpers import easy_road_scene, write_geotiff


def _predict(scene, out, **kw):
    torch.manual_seed(0)
    model = TinyNet()
    r = predict_scene(
        scene,
        model,
        out,
        tile=64,
        overlap=16,
        batch_size=4,
        device="cpu",
        progress=False,
        float_output=True,
        amp=False,
        **kw,
    )
    with rasterio.open(r.prob_path) as src:
        return src.read(1)


@pytest.fixture
def scene(tmp_path):
    image, _ = easy_road_scene(size=160)
    return write_geotiff(tmp_path / "scene.tif", image)


def test_a_failing_compiler_falls_back_with_one_warning(scene, tmp_path, monkeypatch, caplog):
    plain = _predict(scene, tmp_path / "plain")

    def broken(model, *a, **k):
        def run(x):
            raise RuntimeError("inductor: no working C++ compiler found\nmore lines")

        return run

    monkeypatch.setattr(torch, "compile", broken)
    with caplog.at_level(logging.WARNING, logger="geoseg"):
        fallback = _predict(scene, tmp_path / "fallback", compile=True)
    warnings = [r.getMessage() for r in caplog.records if "torch.compile failed" in r.getMessage()]
    assert warnings == [
        "torch.compile failed (RuntimeError: inductor: no working C++ compiler found); "
        "predicting with the uncompiled model"
    ]
    assert fallback.tobytes() == plain.tobytes()


@pytest.mark.slow  # inductor builds C++ kernels: tens of seconds on 2 shared cores
def test_compiled_outputs_match_the_plain_model(scene, tmp_path, caplog):
    plain = _predict(scene, tmp_path / "plain")
    with caplog.at_level(logging.WARNING, logger="geoseg"):
        compiled = _predict(scene, tmp_path / "compiled", compile=True)
    failed = [r.getMessage() for r in caplog.records if "torch.compile failed" in r.getMessage()]
    if failed:
        pytest.skip(f"inductor cannot compile here: {failed[0]}")
    assert np.abs(compiled - plain).max() < 1e-4
    assert compiled.shape == plain.shape and np.isfinite(compiled).all()
