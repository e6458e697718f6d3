"""The typed, versioned Checkpoint: older files are upgraded on load and predict the same,
a newer schema is refused in one sentence naming the file, a round trip keeps every field,
and predict accepts exactly the ModelSource kinds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
import torch
from helpers import write_geotiff

from geoseg.checkpoint import (
    FORMAT,
    REQUIRED,
    SCHEMA,
    Checkpoint,
    TrainingState,
    load_checkpoint,
    model_from_checkpoint,
)
from geoseg.errors import CheckpointError, ModelError
from geoseg.models import create_model
from geoseg.normalize import Normalizer
from geoseg.predict import LoadedModel, load_model, predict_scene


def _payload(seed: int = 0) -> tuple[dict, torch.nn.Module]:
    torch.manual_seed(seed)
    net = create_model("linknet", "test_resnet", in_channels=3)
    norm = Normalizer.for_dtype("uint8", net.norm_mean, net.norm_std)
    return {
        "arch": "linknet",
        "backbone": "test_resnet",
        "in_channels": 3,
        "bands": (3, 2, 1),  # schema 1 kept what it was given (a tuple here)
        "normalizer": norm.to_dict(),
        "tile": 64,
        "threshold": 0.4,
        "model_kwargs": dict(net.model_kwargs),
        "state_dict": net.state_dict(),
    }, net


def save_schema_1(path, payload):
    """Exactly what geoseg's save_checkpoint wrote before the schema field (0.1)."""
    data = {"format": FORMAT, "version": 1, "created": "2026-11-01T10:00:00"}
    data.update(payload)
    torch.save(data, path)
    return path


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (3, 96, 96)).astype(np.uint8)
    return write_geotiff(tmp_path_factory.mktemp("scene") / "scene.tif", image)


def _prob(result):
    with rasterio.open(result.prob_path) as src:
        return src.read(1)


def test_a_schema_1_file_is_upgraded_and_predicts_the_same(tmp_path, scene):
    payload, net = _payload()
    old = save_schema_1(tmp_path / "old.pt", payload)

    ckpt = load_checkpoint(old)
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.schema == SCHEMA and ckpt.upgraded_from == 1
    assert ckpt.bands == [3, 2, 1] and ckpt.threshold == 0.4 and ckpt.tile == 64
    assert ckpt.predict_defaults == {} and ckpt.metrics == {} and ckpt.imagery is None
    assert ckpt.created == "2026-11-01T10:00:00" and ckpt.training is None
    assert ckpt.path == str(old) and ckpt.geoseg_version is None

    # the rebuilt network is the saved one
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model_from_checkpoint(ckpt).eval()(x), net.eval()(x))

    # saved again it is schema 2, and the old and new files predict the same scene alike
    new = ckpt.save(tmp_path / "new.pt")
    raw = torch.load(new, weights_only=True)
    assert raw["schema"] == SCHEMA and "version" not in raw and raw["bands"] == [3, 2, 1]
    assert load_checkpoint(new).upgraded_from is None
    a = predict_scene(scene, old, tmp_path / "a", tile=64, overlap=16, device="cpu")
    b = predict_scene(scene, new, tmp_path / "b", tile=64, overlap=16, device="cpu")
    np.testing.assert_array_equal(_prob(a), _prob(b))
    assert _prob(a).std() > 0  # a real prediction, not an empty raster


def test_a_newer_schema_is_refused_naming_the_file_and_version(tmp_path):
    payload, _ = _payload()
    path = tmp_path / "future.pt"
    torch.save({"format": FORMAT, "schema": SCHEMA + 1, **payload}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    text = str(err.value)
    assert text.startswith(f"{path}: checkpoint schema {SCHEMA + 1} is newer than this geoseg")
    assert f"up to {SCHEMA}" in text and "\n" not in text

    torch.save({"format": FORMAT, "schema": "two", **payload}, path)
    with pytest.raises(CheckpointError, match="schema 'two' is not a version number"):
        load_checkpoint(path)


def test_a_round_trip_keeps_every_field_and_unknown_keys(tmp_path):
    payload, _ = _payload()
    ckpt = Checkpoint.from_dict({**payload, "sensor_note": "pan-sharpened"})
    ckpt.imagery = {
        "dtype": "uint8",
        "percentiles": [2.0, 98.0],
        "low": [1.0, 2.0, 3.0],
        "high": [200.0, 210.0, 220.0],
        "gsd_m": 0.5,
    }
    ckpt.metrics, ckpt.epoch = {"val_iou": 0.61}, 7
    ckpt.config = {"model": {"arch": "linknet"}}
    ckpt.training = TrainingState(
        optimizer={"state": {}, "param_groups": []},
        scheduler={"last": 1},
        step=42,
        history=[{"epoch": 1, "train_loss": 0.5}],
        best_score=0.61,
        stale=2,
        best_path="/models/best.pt",
        elapsed_s=12.5,
    )
    back = load_checkpoint(ckpt.save(tmp_path / "c.pt"))
    for name in ("arch", "backbone", "in_channels", "normalizer", "bands", "imagery", "tile"):
        assert getattr(back, name) == getattr(ckpt, name), name
    assert (back.threshold, back.metrics, back.epoch, back.config) == (
        0.4,
        {"val_iou": 0.61},
        7,
        {"model": {"arch": "linknet"}},
    )
    assert back.training == ckpt.training
    assert back.extra == {"sensor_note": "pan-sharpened"}
    assert back.created and back.geoseg_version
    assert all(torch.equal(back.state_dict[k], v) for k, v in payload["state_dict"].items())


def test_files_written_now_keep_the_keys_older_readers_look_up(tmp_path):
    payload, _ = _payload()
    ckpt = Checkpoint.from_dict(payload)
    ckpt.training = TrainingState(optimizer={"o": 1}, scheduler={}, step=3)
    raw = torch.load(ckpt.save(tmp_path / "last.pt"), weights_only=True)
    assert raw["format"] == FORMAT and all(k in raw for k in REQUIRED)
    assert raw["step"] == 3 and raw["optimizer"] == {"o": 1}  # last.pt's flat keys
    assert raw["best_score"] == -math.inf


def test_dict_style_reads_still_work_for_older_code(tmp_path):
    payload, _ = _payload()
    ckpt = Checkpoint.from_dict(payload, "m.pt")
    assert ckpt["arch"] == "linknet" and ckpt.get("threshold") == 0.4
    assert ckpt["path"] == "m.pt" and ckpt.get("imagery", "none") == "none"
    assert "bands" in ckpt and "imagery" not in ckpt and "optimizer" not in ckpt
    with pytest.raises(KeyError):
        ckpt["no_such_key"]


def test_predict_takes_a_model_source_and_names_anything_else(tmp_path, scene):
    payload, _ = _payload()
    path = save_schema_1(tmp_path / "m.pt", payload)
    loaded = load_model(path)
    assert isinstance(loaded, LoadedModel) and loaded.checkpoint.path == str(path)
    assert load_model(loaded) is loaded  # built once, reused
    a = predict_scene(scene, path, tmp_path / "a", tile=64, overlap=16, device="cpu")
    b = predict_scene(scene, loaded, tmp_path / "b", tile=64, overlap=16, device="cpu")
    np.testing.assert_array_equal(_prob(a), _prob(b))
    for bad, kind in ((42, "int"), (dict(payload), "dict")):
        with pytest.raises(ModelError) as err:
            load_model(bad)
        assert str(err.value).startswith("model must be a checkpoint path, a Checkpoint")
        assert str(err.value).endswith(f"not {kind}")
    with pytest.raises(ModelError, match="not dict"):
        predict_scene(scene, dict(payload), tmp_path / "c", tile=64, overlap=16, device="cpu")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())
