"""One precedence rule for prediction settings: explicit option > checkpoint > default
(geoseg.inference.settings), the same through the library, the CLI and configs."""

import dataclasses

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from fake_models import save_tiny_checkpoint
from helpers import write_geotiff

import geoseg.predict
from geoseg import predict_scene
from geoseg.checkpoint import load_checkpoint
from geoseg.cli.flags import FLAGS
from geoseg.cli.main import cli
from geoseg.config import config_from_dict
from geoseg.errors import ParameterError
from geoseg.inference.settings import resolve_settings
from geoseg.io.windows import TileGrid

CPU = dict(device="cpu", progress=False)
OVERLAP_64 = "must be at least 0 and less than half the tile (64), got 64"


@pytest.fixture
def scene(tmp_path):
    image = np.random.default_rng(4).integers(0, 256, (3, 200, 200), dtype=np.uint8)
    return write_geotiff(tmp_path / "rgb.tif", image)


@pytest.fixture
def ckpt(tmp_path):
    return save_tiny_checkpoint(tmp_path / "tiny.pt")


def with_defaults(path, **fields):
    dataclasses.replace(load_checkpoint(path), **fields).save(path)
    return path


def read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.tags()


def test_resolve_settings_explicit_then_checkpoint_then_default():
    said = {"predict_defaults": {"tile": 1024, "tta": "d4"}, "threshold": 0.3, "bands": [3, 2, 1]}
    s = resolve_settings(said)
    assert (s.tile, s.overlap, s.tta, s.threshold, s.bands) == (1024, 64, "d4", 0.3, [3, 2, 1])
    s = resolve_settings(said, tile=128, tta="flip", threshold=0.6, bands=[1, 2, 3])
    assert (s.tile, s.overlap, s.tta, s.threshold, s.bands) == (128, 32, "flip", 0.6, [1, 2, 3])
    s = resolve_settings(said, overlap=8)
    assert (s.tile, s.overlap) == (1024, 8)
    for nothing in (None, {}, {"threshold": None, "bands": None, "predict_defaults": None}):
        s = resolve_settings(nothing)
        assert (s.tile, s.overlap, s.tta, s.threshold, s.bands) == (512, 64, "none", 0.5, None)


def test_library_tile_128_takes_the_default_overlap_and_matches_the_cli(tmp_path, scene, ckpt):
    result = predict_scene(scene, ckpt, tmp_path / "lib", tile=128, float_output=True, **CPU)
    assert result.n_tiles == len(TileGrid(200, 200, 128, 32)) == 4  # overlap 128/4
    cli_run = CliRunner().invoke(
        cli,
        [
            "predict",
            str(scene),
            "--model",
            str(ckpt),
            "--tile",
            "128",
            "--float",
            "-o",
            str(tmp_path / "cli"),
            "--device",
            "cpu",
        ],
    )
    assert cli_run.exit_code == 0, cli_run.output
    assert "4 tiles" in cli_run.output
    lib_prob, _ = read(result.prob_path)
    cli_prob, _ = read(tmp_path / "cli" / "rgb_prob.tif")
    np.testing.assert_array_equal(lib_prob, cli_prob)
    np.testing.assert_array_equal(
        read(result.mask_path)[0], read(tmp_path / "cli" / "rgb_mask.tif")[0]
    )


def test_predict_scene_explicit_beats_checkpoint_beats_default(tmp_path, scene, ckpt, monkeypatch):
    used = []
    real = geoseg.predict.TilePredictor

    def spy(*args, **kwargs):
        used.append(kwargs["tta"])
        return real(*args, **kwargs)

    monkeypatch.setattr(geoseg.predict, "TilePredictor", spy)

    plain = predict_scene(scene, ckpt, tmp_path / "a", float_output=True, **CPU)
    assert plain.n_tiles == 1 and used[-1] == "none"  # 512 px default: one tile
    assert read(plain.mask_path)[1]["GEOSEG_THRESHOLD"] == "0.5"

    with_defaults(ckpt, predict_defaults={"tile": 64, "tta": "flip"}, threshold=0.3)
    said = predict_scene(scene, ckpt, tmp_path / "b", float_output=True, **CPU)
    assert said.n_tiles == len(TileGrid(200, 200, 64, 16)) and used[-1] == "flip"
    prob, _ = read(said.prob_path)
    mask, tags = read(said.mask_path)
    assert tags["GEOSEG_THRESHOLD"] == "0.3"
    np.testing.assert_array_equal(mask > 0, prob >= 0.3)

    given = predict_scene(
        scene, ckpt, tmp_path / "c", tile=128, tta="none", threshold=0.6, float_output=True, **CPU
    )
    assert given.n_tiles == 4 and used[-1] == "none"
    prob, _ = read(given.prob_path)
    mask, tags = read(given.mask_path)
    assert tags["GEOSEG_THRESHOLD"] == "0.6"
    np.testing.assert_array_equal(mask > 0, prob >= 0.6)


@pytest.mark.parametrize(
    "options,param,flag,words",
    [
        ({"tile": 100}, "tile", "--tile", "must be a positive multiple of 32, got 100"),
        ({"tile": 128, "overlap": 64}, "overlap", "--overlap", OVERLAP_64),
        ({"batch_size": 0}, "batch_size", "--batch-size", "must be at least 1, got 0"),
        ({"threshold": 1.5}, "threshold", "--threshold", "must be between 0 and 1, got 1.5"),
    ],
)
def test_library_errors_name_the_parameter_and_the_cli_the_flag(
    tmp_path, scene, ckpt, options, param, flag, words
):
    with pytest.raises(ParameterError) as err:
        predict_scene(scene, ckpt, tmp_path / "lib", **options, **CPU)
    assert err.value.param == param and str(err.value) == f"{param} {words}"
    args = [a for k, v in options.items() for a in (FLAGS[k], str(v))]
    result = CliRunner().invoke(
        cli, ["predict", str(scene), "--model", str(ckpt), "-o", str(tmp_path / "c"), *args]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {flag} {words}"]


def test_config_overlap_defaults_from_the_tile():
    cfg = config_from_dict({"predict": {"tile": 128}})  # the old fixed 64 px was refused
    assert cfg.predict.overlap is None
    s = resolve_settings(None, tile=cfg.predict.tile, overlap=cfg.predict.overlap)
    assert (s.tile, s.overlap) == (128, 32)


def test_a_missing_model_is_named_as_a_parameter_by_the_library_and_a_flag_by_the_cli(tmp_path):

    from geoseg.errors import CheckpointError, ConfigError
    from geoseg.predict import resolve_checkpoint

    with pytest.raises(ConfigError, match=r"model=CKPT\) or a backbone \(backbone=B\)$"):
        resolve_checkpoint()
    with pytest.raises(CheckpointError, match="pass models_dir=DIR .* or pass model=CKPT$"):
        resolve_checkpoint(backbone="resnet18", models_dir=tmp_path)
    scene = tmp_path / "s.tif"
    scene.write_bytes(b"")
    res = CliRunner().invoke(
        cli, ["predict", str(scene), "--backbone", "resnet18", "--models-dir", str(tmp_path)]
    )
    assert res.exit_code == 1
    assert "pass --models-dir DIR" in res.output and "or pass --model CKPT" in res.output
    assert "models_dir=" not in res.output
