"""map_scene: the one per-scene pipeline (predict, write, vectorize, summarise) and its
four callers (geoseg predict, the demo, compare, batch)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from fake_models import Brightness
from helpers import easy_road_scene, write_geotiff

from geoseg import pipeline
from geoseg.cli.main import cli
from geoseg.errors import ConfigError, GeoSegError
from geoseg.io.vector import read_roads


@pytest.fixture
def scene(tmp_path):
    image, _ = easy_road_scene(192, seed=3)
    return write_geotiff(tmp_path / "scene.tif", image)


def test_map_scene_writes_every_output_with_the_crs_and_summarises_the_layer(scene, tmp_path):
    out = tmp_path / "out"
    roads = [out / "roads.gpkg", out / "roads.shp"]
    result = pipeline.map_scene(
        scene, Brightness(), out, roads=roads, tile=64, overlap=8, device="cpu", preview=True
    )
    assert result.outputs == {
        "prob": out / "scene_prob.tif",
        "mask": out / "scene_mask.tif",
        "preview": out / "scene_preview.png",
        "roads": out / "roads.gpkg",
        "roads_2": out / "roads.shp",
    }
    with rasterio.open(scene) as ref:
        for key in ("prob", "mask"):
            with rasterio.open(result.outputs[key]) as src:
                assert (src.crs, src.transform, src.shape) == (ref.crs, ref.transform, ref.shape)
        crs = ref.crs
    for path in roads:
        layer = read_roads(path)
        assert layer.crs == crs
        assert len(layer) == result.n_roads > 0
        assert result.road_length.unit == "km"
        assert result.road_length.km == pytest.approx(layer["length_m"].sum() / 1000, rel=1e-6)
        # easy_road_scene draws 6 straight roads across a 96 m scene: about 0.5 km
        assert 0.4 < result.road_length.km < 0.65
    assert str(result.road_length) == f"{result.road_length.km:.2f} km"
    assert set(result.seconds) == {"predict", "vectorize", "total"}
    assert result.prediction is not None and result.prediction.n_tiles == 16
    assert not [p for p in out.iterdir() if ".partial" in p.name]


def test_a_failing_vectorize_leaves_no_raster_behind(scene, tmp_path):
    def broken(mask, prob):
        raise RuntimeError("vectorizer crashed")

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="vectorizer crashed"):
        pipeline.map_scene(
            scene, Brightness(), out, roads=out / "r.gpkg", vectorizer=broken, tile=64, overlap=8
        )
    assert not list(out.iterdir())  # the scene's outputs appear together, or none


def test_bad_requests_fail_before_any_work(scene, tmp_path):
    with pytest.raises(ConfigError, match="add mask to the outputs"):
        pipeline.map_scene(scene, Brightness(), tmp_path, roads=tmp_path / "r.gpkg", outputs="prob")
    with pytest.raises(GeoSegError, match="roads.txt: unknown vector format"):
        pipeline.map_scene(scene, Brightness(), tmp_path, roads=tmp_path / "roads.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.tif"]


def test_road_length_is_km_with_a_crs_and_pixels_without():
    import geopandas as gpd
    from shapely.geometry import LineString

    lines = [LineString([(0, 0), (300, 400)]), LineString([(0, 0), (0, -100)])]
    geographic = gpd.GeoDataFrame({"length_m": [1200.0, 800.0]}, geometry=lines, crs=4326)
    assert pipeline.road_length(geographic) == pipeline.RoadLength(2.0, "km")  # length_m
    projected = gpd.GeoDataFrame(geometry=lines, crs=32633)
    assert pipeline.road_length(projected) == pipeline.RoadLength(0.6, "km")
    pixels = gpd.GeoDataFrame({"length_m": [500.0, 100.0]}, geometry=lines, crs=None)
    length = pipeline.road_length(pixels)
    assert length == pipeline.RoadLength(600.0, "px") and length.km is None
    assert str(length) == "600 px"  # never labelled as km or metres
    assert pipeline.road_length(projected.iloc[:0]) == pipeline.RoadLength(0.0, "km")


@pytest.fixture
def spy(monkeypatch):
    """Count map_scene calls (the real one runs)."""
    calls = []
    real = pipeline.map_scene

    def counting(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(result)
        return result

    for target in ("geoseg.pipeline", "geoseg.demo", "geoseg.compare.run", "geoseg.batch.runner"):
        monkeypatch.setattr(f"{target}.map_scene", counting)
    return calls


def test_predict_and_batch_run_the_same_pipeline_with_the_same_outputs(
    spy, tmp_path, geotiff_factory
):
    from fake_models import save_tiny_checkpoint

    from geoseg.batch import run_batch

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    image, _ = easy_road_scene(128, seed=1)
    scene = write_geotiff(tmp_path / "scene.tif", image)
    res = CliRunner().invoke(
        cli,
        ["predict", str(scene), "-m", str(ckpt), "--tile", "64", "--overlap", "8"]
        + ["--device", "cpu", "-o", str(tmp_path / "p"), "--vector", str(tmp_path / "p.gpkg")],
    )
    assert res.exit_code == 0, res.output
    assert len(spy) == 1
    single = spy[0]
    assert f"({single.n_roads} lines, {single.road_length})" in res.output
    batch = run_batch(
        [scene], tmp_path / "b", ckpt, tile=64, overlap=8, device="cpu", progress=False
    )
    assert batch.ok and len(spy) == 2
    scene_dir = tmp_path / "b" / "scenes" / "scene"
    for name in ("scene_prob.tif", "scene_mask.tif"):
        with rasterio.open(tmp_path / "p" / name) as a, rasterio.open(scene_dir / name) as b:
            assert np.array_equal(a.read(), b.read()) and a.crs == b.crs
    mine, theirs = read_roads(tmp_path / "p.gpkg"), read_roads(scene_dir / "roads.gpkg")
    assert sorted(g.wkt for g in mine.geometry) == sorted(g.wkt for g in theirs.geometry)
    assert spy[1].n_roads == single.n_roads == len(mine)
    record = next((tmp_path / "b" / "manifest").glob("*.json")).read_text()
    assert f'"n_roads": {single.n_roads}' in record


def test_compare_maps_every_held_out_image_through_map_scene(spy, tmp_path, monkeypatch):
    import fake_models
    from tiny_configs import write_tiny_configs

    import geoseg.train
    from geoseg.compare import compare_models
    from geoseg.sample_data import generate_scene, write_scene

    monkeypatch.setattr(geoseg.train, "train_model", lambda *a, **k: pytest.fail("trained"))
    data = tmp_path / "data"
    for i, name in enumerate(("a", "b")):
        write_scene(generate_scene(64, 64, seed=20 + i), data, name)
    (config,) = write_tiny_configs(tmp_path, archs=("linknet",))
    ckpt = fake_models.save_tiny_checkpoint(tmp_path / "linknet.pt")
    result = compare_models(
        [config], data, checkpoints=[ckpt], out_dir=tmp_path / "cmp", device="cpu", progress=False
    )
    assert len(spy) == 1 and spy[0].scene == data / "b.tif"  # the one held-out image
    assert spy[0].roads_path == tmp_path / "cmp" / "predictions" / "linknet_tiny" / "b_roads.gpkg"
    run = result.runs[0]
    assert run.seconds == pytest.approx(spy[0].prediction.seconds)


def test_demo_maps_the_held_out_scene_through_map_scene(spy, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from fake_models import save_tiny_checkpoint

    import geoseg.demo
    from geoseg.io.vector import write_roads
    from geoseg.vectorize import vectorize_mask

    sample = tmp_path / "sample"
    sample.mkdir()
    image, mask = easy_road_scene(128, seed=2)
    for name in (*geoseg.demo.TRAIN_SCENES, geoseg.demo.HOLDOUT):
        write_geotiff(sample / f"{name}.tif", image)
        write_geotiff(sample / f"{name}_mask.tif", mask)
    truth = vectorize_mask(sample / "holdout_mask.tif", progress=False)
    write_roads(truth, sample / "holdout_roads.gpkg", style=False)
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    trained = SimpleNamespace(checkpoint_path=ckpt, best_metrics={})
    monkeypatch.setattr(geoseg.demo, "train_model", lambda *a, **k: trained)
    result = geoseg.demo.run_demo(tmp_path / "demo", sample_dir=sample, device="cpu")
    assert len(spy) == 1
    mapped = spy[0]
    assert (result.roads_shp, result.roads_gpkg) == mapped.roads_paths
    assert result.scores["lines"] == len(read_roads(result.roads_gpkg)) == mapped.n_roads
    assert result.scores["road_km"] == mapped.road_length.km
    assert result.seconds["predict"] == mapped.seconds["predict"]
    with rasterio.open(result.mask_path) as src:
        assert src.crs == "EPSG:32633"


def test_an_older_checkpoint_is_reported_once_per_batch_and_per_single_predict(tmp_path, caplog):
    """No pixel size recorded: a batch says so once, a single predict every time."""
    from fake_models import save_tiny_checkpoint

    from geoseg.batch import run_batch
    from geoseg.predict import predict_scene

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")  # no imagery record
    scenes = [
        write_geotiff(
            tmp_path / f"s{i}.tif", easy_road_scene(64, seed=i)[0], origin=(5e5 + 32 * i, 4e6)
        )
        for i in range(3)
    ]
    words = "the checkpoint records no training pixel size"
    with caplog.at_level(logging.WARNING, logger="geoseg"):
        result = run_batch(
            scenes,
            tmp_path / "out",
            ckpt,
            tile=64,
            overlap=8,
            device="cpu",
            progress=False,
            resample_to_training=True,
        )
    assert result.ok and result.n_done == 3
    said = [r.getMessage() for r in caplog.records if words in r.getMessage()]
    assert len(said) == 1 and "once for all scenes" in said[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="geoseg"):
        for i in (0, 1):
            predict_scene(
                scenes[0],
                ckpt,
                tmp_path / f"single{i}",
                tile=64,
                overlap=8,
                device="cpu",
                resample_to_training=True,
            )
    said = [r.getMessage() for r in caplog.records if words in r.getMessage()]
    assert len(said) == 2 and all("s0.tif" in m and "once" not in m for m in said)
