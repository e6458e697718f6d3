"""The imagery's domain (#12 rule 5): a model trained on 8-bit RGB finds the roads of the
same landscape stored as 11-bit uint16 with other gains per band; pixel size is checked."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import rasterio
import torch
from click.testing import CliRunner
from helpers import easy_road_scene, write_geotiff

from geoseg import radiometry
from geoseg.checkpoint import load_checkpoint
from geoseg.io.raster import open_scene
from geoseg.predict import predict_scene

GAIN = np.array([3.1, 4.7, 2.3]).reshape(3, 1, 1)  # 255·4.7 + 40 < 2047: 11-bit, part of it
OFFSET = np.array([150, 40, 300]).reshape(3, 1, 1)


def as_11bit(image: np.ndarray) -> np.ndarray:
    return np.rint(image * GAIN + OFFSET).astype(np.uint16)


def tiny_training(root, scene, mask, in_channels=3, tile=64, epochs=4, samples=40, lr=1e-2):
    """A real (brief) train_model run on one scene: a few seconds on one CPU thread."""
    from geoseg.config import config_from_dict
    from geoseg.train import train_model

    cfg = config_from_dict(
        {
            "model": {
                "arch": "linknet",
                "backbone": "test_resnet",
                "encoder_weights": None,
                "in_channels": in_channels,
            },
            "data": {
                "scenes": [str(scene)],
                "masks": [str(mask)],
                "tile": tile,
                "batch_size": 8,
                "samples_per_epoch": samples,
                "val_fraction": 0.25,
                "road_weight": 0.5,
            },
            "train": {
                "epochs": epochs,
                "lr": lr,
                "schedule": "cosine",
                "amp": False,
                "augment": False,
            },
        },
        "test",
    )
    return train_model(cfg, models_dir=root / "models", out_dir=root / "run", device="cpu")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models on 64 px tiles: more torch threads only spin on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def iou(mask_path, truth) -> float:
    with rasterio.open(mask_path) as src:
        pred = src.read(1) > 0
    truth = truth > 0
    return float((pred & truth).sum() / max((pred | truth).sum(), 1))


@pytest.fixture(scope="module")
def landscape(tmp_path_factory):
    root = tmp_path_factory.mktemp("radiometry")
    image, mask = easy_road_scene(256, seed=0)
    train = write_geotiff(root / "train.tif", image)
    train_mask = write_geotiff(root / "train_truth.tif", mask)
    result = tiny_training(root, train, train_mask)
    test, truth = easy_road_scene(256, seed=5)
    return {
        "root": root,
        "ckpt": result.checkpoint_path,
        "train_image": image,
        "truth": truth,
        "test": test,
        "u8": write_geotiff(root / "test8.tif", test),
        "u16": write_geotiff(root / "test16.tif", as_11bit(test)),
    }


def predict(land, name, out, **kw):
    kw.setdefault("tile", 64)
    res = predict_scene(
        land[name],
        kw.pop("model", land["ckpt"]),
        land["root"] / out,
        overlap=8,
        progress=False,
        device="cpu",
        **kw,
    )
    return res.mask_path


def test_training_records_the_imagery(landscape):
    ckpt = torch.load(landscape["ckpt"], weights_only=True)
    rec = ckpt["imagery"]
    assert rec["dtype"] == "uint8" and rec["percentiles"] == [2.0, 98.0]
    want = np.percentile(landscape["train_image"].reshape(3, -1), [2, 98], axis=1)
    assert np.allclose(rec["low"], want[0], atol=1) and np.allclose(rec["high"], want[1], atol=1)
    assert rec["gsd_m"] == pytest.approx(0.5)


def test_11bit_scene_scores_like_the_8bit_one_and_none_collapses(landscape, caplog):
    with caplog.at_level(logging.INFO, logger="geoseg"):
        base = iou(predict(landscape, "u8", "p8"), landscape["truth"])
        assert "rescaled" not in caplog.text  # same dtype and range: fed as it is
        caplog.clear()
        rescaled = iou(predict(landscape, "u16", "p16"), landscape["truth"])
    lines = [r for r in caplog.records if "rescaled band by band" in r.getMessage()]
    assert len(lines) == 1 and "uint16" in lines[0].getMessage()
    assert "training imagery's uint8" in lines[0].getMessage()
    print("synthetic IoU: uint8", base, "uint16 auto", rescaled)  # quoted in docs/predict.md
    assert base > 0.6, base
    assert abs(rescaled - base) < 0.03, (base, rescaled)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="geoseg"):
        raw = iou(predict(landscape, "u16", "pnone", radiometry="none"), landscape["truth"])
    print("synthetic IoU: uint16 none", raw)
    assert raw < base - 0.3, (base, raw)  # values clip at 255: the roads vanish
    assert "are clipped" in caplog.text  # ... and it is said, not silent


def test_match_always_rescales_and_older_checkpoints_use_the_normaliser(landscape, caplog):
    ckpt = load_checkpoint(landscape["ckpt"])
    with caplog.at_level(logging.INFO, logger="geoseg"):
        matched = iou(predict(landscape, "u8", "pmatch", radiometry="match"), landscape["truth"])
    assert "rescaled band by band" in caplog.text
    assert matched > 0.6
    legacy = dataclasses.replace(ckpt, imagery=None)  # as written before the record
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="geoseg"):
        score = iou(predict(landscape, "u16", "plegacy", model=legacy), landscape["truth"])
    (line,) = [r for r in caplog.records if r.name == "geoseg.radiometry"]
    assert line.levelno == logging.WARNING
    assert "no training imagery recorded" in line.getMessage() and "0–255" in line.getMessage()
    assert score > 0.3, score  # a stretch onto 0–255, not a clip at 255


def test_rescaled_normaliser_is_one_linear_map():
    from geoseg.normalize import Normalizer

    norm = Normalizer((0.0,), (255.0,), (0.5,), (0.25,))
    ref = radiometry.TrainingImagery("uint8", (40.0,), (200.0,), None, True)
    stats = radiometry.ImageryStats("uint16", (400.0,), (1200.0,), 100)
    new = radiometry.rescaled_normalizer(norm, stats, ref)
    scene = np.array([[[400.0, 800.0, 1200.0, 1500.0]]])
    train_values = 40 + (scene - 400) * 160 / 800  # the 2/98 % map
    assert np.allclose(new(scene), norm(train_values))


def no_roads(mask_path, prob):
    """The batch's vectorize step left out: these tests look at the masks."""
    import geopandas as gpd

    with rasterio.open(mask_path) as src:
        return gpd.GeoDataFrame({"length_m": []}, geometry=[], crs=src.crs)


def test_batch_pools_the_area_and_records_the_rule(landscape, tmp_path, caplog):
    from geoseg.batch import run_batch

    u16 = as_11bit(landscape["test"])
    left = write_geotiff(tmp_path / "left.tif", u16[:, :, :128])
    right = write_geotiff(tmp_path / "right.tif", u16[:, :, 128:], origin=(500064.0, 4000000.0))
    with caplog.at_level(logging.INFO, logger="geoseg"):
        result = run_batch(
            [left, right],
            tmp_path / "out",
            landscape["ckpt"],
            tile=64,
            overlap=8,
            device="cpu",
            progress=False,
            vectorizer=no_roads,
        )
    assert result.ok and result.n_done == 2
    pooled = [r for r in caplog.records if "rescaled band by band" in r.getMessage()]
    assert len(pooled) == 1 and "2 scene(s) of the batch (pooled)" in pooled[0].getMessage()
    # one map for the whole area: both scenes get the same normaliser
    ckpt = load_checkpoint(landscape["ckpt"])
    stats = radiometry.area_rule([left, right], ckpt, "auto")
    norm = radiometry.Normalizer.from_dict(ckpt["normalizer"])
    a, b = (
        radiometry.adapt(open_scene(p), norm, ckpt, stats=stats).normalizer for p in (left, right)
    )
    assert a == b and a.high[1] > 255
    masks = [result.out_dir / "scenes" / n / f"{n}_mask.tif" for n in ("left", "right")]
    joined = np.concatenate([rasterio.open(m).read(1) for m in masks], axis=1)
    truth = landscape["truth"] > 0
    score = (joined.astype(bool) & truth).sum() / (joined.astype(bool) | truth).sum()
    base = iou(predict(landscape, "u8", "p8b"), landscape["truth"])
    assert abs(score - base) < 0.05, (base, score)
    record = next((tmp_path / "out").rglob("*.json"), None)
    assert record is not None and '"radiometry": "auto"' in record.read_text()


def test_pixel_size_is_metres_in_any_crs():
    from affine import Affine
    from rasterio.crs import CRS

    gsd = radiometry.ground_sample_distance
    assert gsd(CRS.from_epsg(32633), Affine(0.5, 0, 5e5, 0, -0.5, 4e6), 10, 10) == pytest.approx(
        0.5
    )
    feet = gsd(CRS.from_epsg(2272), Affine(1, 0, 0, 0, -1, 0), 10, 10)
    assert feet == pytest.approx(0.3048, rel=1e-4)
    # SpaceNet Vegas: 2.7e-6 degrees at 36.14 N: 0.243 m east-west, 0.300 m north-south
    vegas = gsd(CRS.from_epsg(4326), Affine(2.7e-6, 0, -115.2338, 0, -2.7e-6, 36.1423), 1300, 1300)
    assert vegas == pytest.approx(np.sqrt(0.2431 * 0.2998), rel=2e-3)
    assert gsd(None, Affine.identity(), 10, 10) is None


def test_finer_pixels_warn_and_resampling_restores_the_score(landscape, caplog):
    fine = np.repeat(np.repeat(landscape["test"], 2, axis=1), 2, axis=2)  # 0.25 m, same ground
    truth = np.repeat(np.repeat(landscape["truth"], 2, axis=0), 2, axis=1)
    landscape["fine"] = write_geotiff(landscape["root"] / "fine.tif", fine, res=0.25)
    base = iou(predict(landscape, "u8", "p8c"), landscape["truth"])
    with caplog.at_level(logging.WARNING, logger="geoseg"):
        predict(landscape, "fine", "pfine", tile=128)
    assert "pixel 0.25 m is 50 % finer than the training imagery's 0.5 m" in caplog.text
    assert "--resample-to-training" in caplog.text
    mask = predict(landscape, "fine", "pfine_rs", tile=128, resample_to_training=True)
    with rasterio.open(mask) as out, rasterio.open(landscape["fine"]) as src:
        assert (out.crs, out.transform, out.shape) == (src.crs, src.transform, src.shape)
    assert abs(iou(mask, truth) - base) < 0.05, (base, iou(mask, truth))


def test_cli_options(landscape):
    from geoseg.cli.main import cli

    out = landscape["root"] / "cli"
    args = [
        "predict",
        str(landscape["u16"]),
        "--model",
        str(landscape["ckpt"]),
        "-o",
        str(out),
        "--tile",
        "64",
        "--overlap",
        "8",
        "--device",
        "cpu",
    ]
    ok = CliRunner().invoke(cli, args + ["--radiometry", "match", "--resample-to-training"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(cli, args + ["--radiometry", "stretch"])
    assert bad.exit_code == 2 and "auto" in bad.output


def test_real_11bit_spacenet_chip_scores_like_its_8bit_rendering(realdata, tmp_path):
    """SpaceNet Vegas pan (uint16, 1–2047): train briefly on an 8-bit rendering of the top
    half, score the bottom half stored both ways (decimated 2x: 0.5 m, cheap to train)."""
    folder = realdata / "spacenet_vegas_pan"
    if not (folder / "vegas_pan.tif").exists():
        pytest.skip("spacenet_vegas_pan is not in ../shared/realdata")
    with (
        rasterio.open(folder / "vegas_pan.tif") as src,
        rasterio.open(folder / "vegas_pan_roads_mask.tif") as msk,
    ):
        pan, truth, profile = src.read(1)[::2, ::2], msk.read(1)[::2, ::2], src.profile
        transform = src.transform * rasterio.Affine.scale(2)
    low, high = np.percentile(pan, [2, 98])
    pan8 = np.clip(np.rint((pan - low) / (high - low) * 255), 0, 255).astype(np.uint8)
    half = pan.shape[0] // 2 - 4

    def write(name, array, row0):
        from rasterio.windows import Window
        from rasterio.windows import transform as window_transform

        window = Window(0, row0, array.shape[1], half)
        prof = dict(
            profile,
            dtype=array.dtype.name,
            width=array.shape[1],
            height=half,
            transform=window_transform(window, transform),
            tiled=False,
        )
        with rasterio.open(tmp_path / name, "w", **prof) as dst:
            dst.write(array[None, row0 : row0 + half])
        return tmp_path / name

    bottom = pan.shape[0] - half
    train = tiny_training(
        tmp_path,
        write("train8.tif", pan8, 0),
        write("train_mask.tif", truth, 0),
        in_channels=1,
        epochs=8,
        samples=64,
    )
    truth = truth[bottom:] > 0
    scores = {}
    for name, array, kw in (
        ("u8", pan8, {}),
        ("u16", pan, {}),
        ("none", pan, {"radiometry": "none"}),
    ):
        res = predict_scene(
            write(f"{name}.tif", array, bottom),
            train.checkpoint_path,
            tmp_path / name,
            tile=64,
            overlap=16,
            progress=False,
            device="cpu",
            **kw,
        )
        scores[name] = iou(res.mask_path, truth)
    print("spacenet pan IoU:", scores)  # docs/predict.md quotes these (pytest -s)
    assert train.checkpoint_path and torch.load(train.checkpoint_path, weights_only=True)[
        "imagery"
    ]["gsd_m"] == pytest.approx(0.54, abs=0.01)
    assert scores["u8"] > 0.1, scores  # a brief training finds some real roads
    assert abs(scores["u16"] - scores["u8"]) < 0.04, scores
    assert scores["none"] < 0.05, scores  # 11-bit values clipped at 255: no roads


def test_nodata_is_left_out_and_an_empty_scene_is_no_error(tmp_path):
    from geoseg.checkpoint import Checkpoint
    from geoseg.normalize import Normalizer

    norm = Normalizer.for_dtype("uint8", [0.5], [0.25])
    ckpt = Checkpoint(
        arch="linknet",
        backbone="test_resnet",
        in_channels=1,
        normalizer=norm.to_dict(),
        state_dict={},
        imagery={"dtype": "uint8", "low": [40.0], "high": [200.0], "gsd_m": 0.5},
    )
    image = np.zeros((1, 100, 100), np.uint16)
    empty = open_scene(write_geotiff(tmp_path / "empty.tif", image, nodata=0))
    assert radiometry.adapt(empty, norm, ckpt).normalizer == norm  # nothing to compare
    image[0, :50] = np.linspace(400, 1200, 5000).reshape(50, 100)  # the rest is nodata 0
    half = open_scene(write_geotiff(tmp_path / "half.tif", image, nodata=0))
    stats = radiometry.scene_stats(half.path)
    assert stats.low[0] == pytest.approx(416, abs=1) and stats.pixels == 5000
    new = radiometry.adapt(half, norm, ckpt).normalizer
    assert new(np.array([[[416.0]]])) == pytest.approx(norm(np.array([[[40.0]]])), abs=1e-3)


def test_a_band_without_spread_is_fed_as_it_is_not_shifted():
    """A constant (or 1×1) scene: 169–169 has no stretch onto the training's 45–190, so it
    keeps the checkpoint's normaliser (it was shifted onto 45 before)."""
    from types import SimpleNamespace

    from geoseg.normalize import Normalizer

    norm = Normalizer((0.0,) * 3, (255.0,) * 3, (0.5,) * 3, (0.25,) * 3)
    ckpt = SimpleNamespace(
        imagery={"dtype": "uint8", "low": [45.0] * 3, "high": [190.0] * 3}, path="m.pt"
    )
    constant = radiometry.ImageryStats("uint8", (169.0,) * 3, (169.0,) * 3, 1)
    for mode in ("auto", "match"):
        used, rescaled, lines = radiometry.decide(constant, norm, ckpt, mode, "one.tif")
        assert used == norm and not rescaled
        assert "no spread in any band" in lines[0][1] and "fed as they are" in lines[0][1]
    # one flat band among stretched ones: that band alone keeps the normaliser
    mixed = radiometry.ImageryStats("uint16", (400.0, 7.0, 400.0), (1200.0, 7.0, 1200.0), 100)
    used, rescaled, lines = radiometry.decide(mixed, norm, ckpt, "auto", "mixed.tif")
    assert rescaled and (used.low[1], used.high[1]) == (0.0, 255.0)
    assert used.low[0] != 0.0 and "band(s) 2 without spread" in lines[0][1]
