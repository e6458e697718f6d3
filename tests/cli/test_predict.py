from pathlib import Path

import fake_models
import geopandas as gpd
import numpy as np
import pytest
import rasterio
from helpers import run_cli as run
from helpers import write_geotiff


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A models folder with one trained checkpoint, a good scene and an output folder."""
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("GEOSEG_MODELS", str(models))
    ckpt = fake_models.save_tiny_checkpoint(models / "linknet_test_resnet_20250101-000000.pt")
    data = np.random.default_rng(0).integers(1, 256, (3, 100, 90)).astype(np.uint8)
    scene = write_geotiff(tmp_path / "scene.tif", data)
    return {"ckpt": ckpt, "scene": scene, "out": tmp_path / "out", "tmp": tmp_path}


def test_predict_with_backbone_finds_the_trained_checkpoint(env):
    result = run(
        "predict",
        env["scene"],
        "--backbone",
        "test_resnet",
        "-o",
        env["out"],
        "--tile",
        64,
        "--overlap",
        16,
        "--tta",
        "flip",
        "--preview",
        "--float",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert "4 tiles in" in result.output and "MP/s" in result.output
    names = sorted(p.name for p in env["out"].iterdir())
    assert names == ["scene_mask.tif", "scene_preview.png", "scene_prob.tif"]
    with rasterio.open(env["out"] / "scene_prob.tif") as src, rasterio.open(env["scene"]) as ref:
        assert src.dtypes[0] == "float32"
        assert (src.crs, src.transform, src.shape) == (ref.crs, ref.transform, ref.shape)


def test_default_output_is_a_predictions_folder_beside_the_scene(env):
    # a ground-truth mask named as predict would name its mask stays byte-identical (#12)
    truth = env["tmp"] / "scene_mask.tif"
    write_geotiff(truth, np.full((1, 40, 40), 255, np.uint8))
    before = truth.read_bytes()
    result = run(
        "predict",
        env["scene"],
        "--model",
        env["ckpt"],
        "--tile",
        64,
        "--overlap",
        8,
        "--bands",
        "1,2,3",
    )
    assert result.exit_code == 0, result.output
    with rasterio.open(env["tmp"] / "predictions" / "scene_mask.tif") as src:
        assert set(np.unique(src.read(1))) <= {0, 1}
        assert src.tags()["GEOSEG_PRODUCT"] == "mask"
        assert src.tags()["GEOSEG_CHECKPOINT"] == Path(env["ckpt"]).name
    assert truth.read_bytes() == before


def bad_inputs(env):
    tmp = env["tmp"]
    (tmp / "notes.tif").write_text("not a raster")
    (tmp / "empty.tif").touch()
    good = write_geotiff(tmp / "big.tif", np.ones((3, 300, 300), np.uint8))
    (tmp / "cut.tif").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    write_geotiff(tmp / "two.tif", np.ones((2, 50, 50), np.uint8))
    fake_models.save_tiny_checkpoint(tmp / "unet.pt", arch="unet")
    (tmp / "afile").write_text("x")
    m = ["--model", env["ckpt"]]
    return {
        "missing file": ([tmp / "nope.tif", *m], "nope.tif: file not found"),
        "text file": ([tmp / "notes.tif", *m], "not a raster"),
        "truncated": ([tmp / "cut.tif", *m], "truncated or corrupt"),
        "empty": ([tmp / "empty.tif", *m], "empty"),
        "band count": ([tmp / "two.tif", *m], "2 bands selected but the model expects 3"),
        "missing band": ([env["scene"], *m, "--bands", "1,2,5"], "band 5 does not exist"),
        "other arch": (
            [env["scene"], "--model", tmp / "unet.pt", "--arch", "linknet"],
            "is a unet model, not linknet",
        ),
        "no checkpoint": (
            [env["scene"], "--arch", "dlinknet", "--backbone", "xception"],
            "a config that sets model.arch: dlinknet and model.backbone: xception",
        ),
        "missing checkpoint": ([env["scene"], "--model", tmp / "none.pt"], "checkpoint not found"),
        "unwritable output": ([env["scene"], *m, "-o", tmp / "afile" / "out"], "cannot create"),
        "bad tile": ([env["scene"], *m, "--tile", 100], "multiple of 32"),
    }


def test_every_bad_input_is_one_line_exit_1_and_leaves_no_file(env):
    for name, (args, words) in bad_inputs(env).items():
        out = env["tmp"] / f"out_{name.replace(' ', '_')}"
        if "-o" not in args:
            args = [*args, "-o", out]
        result = run("predict", *args)
        assert result.exit_code == 1, (name, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (name, result.output)
        assert not out.exists() or list(out.iterdir()) == [], name


def test_model_or_backbone_is_required(env):
    result = run("predict", env["scene"])
    assert result.exit_code == 2 and "--model" in result.output


def test_scene_without_crs_warns_and_continues(env):
    data = np.random.default_rng(3).integers(1, 256, (3, 40, 40)).astype(np.uint8)
    plain = write_geotiff(env["tmp"] / "plain.tif", data, crs=None)
    result = run("predict", plain, "--model", env["ckpt"], "--tile", 64, "-o", env["out"])
    assert result.exit_code == 0, result.output
    assert "no CRS" in result.output  # the warning reaches the user
    with rasterio.open(env["out"] / "plain_prob.tif") as src:
        assert src.crs is None and src.shape == (40, 40)


def predict_into_out(env, *args):
    """`geoseg predict SCENE --model CKPT -o OUT --device cpu ARGS...` of the env fixture."""
    return run(
        "predict", env["scene"], "--model", env["ckpt"], "-o", env["out"], "--device", "cpu", *args
    )


def test_vector_option_writes_centerlines_of_the_mask(env):
    import geopandas as gpd

    from geoseg.vectorize import vectorize_mask

    roads = env["out"] / "roads.gpkg"
    result = predict_into_out(
        env, "--tile", 64, "--overlap", 16, "--threshold", "0.3", "--vector", roads
    )
    assert result.exit_code == 0, result.output
    written = gpd.read_file(roads)
    expected = vectorize_mask(env["out"] / "scene_mask.tif", prob=env["out"] / "scene_prob.tif")
    with rasterio.open(env["scene"]) as ref:
        assert written.crs == ref.crs
    assert len(written) == len(expected)
    assert written["length_m"].sum() == pytest.approx(expected["length_m"].sum())
    assert f"roads:         {roads} ({len(expected)} lines" in result.output


def test_vector_option_with_unknown_format_fails_before_predicting(env):
    result = predict_into_out(env, "--vector", env["tmp"] / "roads.txt")
    assert result.exit_code == 1
    assert "roads.txt" in result.output and len(result.output.strip().splitlines()) == 1
    assert not env["out"].exists() or not any(env["out"].iterdir())


def test_scene_without_crs_vectorizes_in_pixels_and_refuses_geojson(env):
    """The no-CRS rule (issue 13): lines in QGIS's pixel space with lengths in px, a px
    summary, and GeoJSON (WGS84) refused before any prediction."""
    data = np.random.default_rng(3).integers(1, 256, (3, 40, 40)).astype(np.uint8)
    plain = write_geotiff(env["tmp"] / "plain.tif", data, crs=None)
    geojson = env["tmp"] / "roads.geojson"
    args = ("--model", env["ckpt"], "--tile", 64, "-o", env["out"], "--device", "cpu")
    result = run("predict", plain, *args, "--vector", geojson)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert str(geojson) in result.output and "no CRS" in result.output
    assert not geojson.exists() and not (env["out"] / "plain_prob.tif").exists()
    gpkg = env["tmp"] / "roads.gpkg"
    result = run("predict", plain, *args, "--vector", gpkg, "--threshold", "0.01")
    assert result.exit_code == 0, result.output
    (summary,) = [line for line in result.output.splitlines() if line.startswith("roads:")]
    assert summary.endswith(" px)") and "km" not in summary
    roads = gpd.read_file(gpkg)
    assert roads.crs is None and "length_px" in roads and "length_m" not in roads
