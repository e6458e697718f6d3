"""NaN and ±inf are never data, tagged as nodata or not (geoseg.io.grid.read_pixels):
predict marks them nodata in its outputs and evaluate does not score them."""

import logging

import numpy as np
import pytest
import rasterio
import torch
from fake_models import TinyNet
from helpers import write_geotiff
from rasterio.windows import Window

from geoseg import predict_scene
from geoseg.evaluate import evaluate_pair
from geoseg.io.grid import open_grid, read_pixels

FAST = dict(tile=64, overlap=16, batch_size=2, device="cpu", progress=False, amp=False)


def float_scene(tmp_path, name, nodata):
    rng = np.random.default_rng(5)
    data = rng.random((3, 96, 80)).astype(np.float32)
    data[:, :20, :] = np.nan  # a NaN strip (all bands)
    data[1, 40, 10:15] = np.inf  # one band infinite is enough to be no data
    data[0, 60, 30:33] = -np.inf
    return write_geotiff(tmp_path / name, data, nodata=nodata)


def invalid(prob_or_mask):
    with rasterio.open(prob_or_mask) as src:
        return src.read_masks(1) == 0


@pytest.mark.parametrize("nodata", [None, float("nan")], ids=["untagged", "nan-tagged"])
def test_predict_marks_nan_and_inf_pixels_nodata(tmp_path, nodata):
    path = float_scene(tmp_path, "scene.tif", nodata)
    torch.manual_seed(0)
    out = predict_scene(path, TinyNet(), tmp_path / "out", float_output=True, **FAST)
    expected = np.zeros((96, 80), bool)
    expected[:20] = True
    expected[40, 10:15] = expected[60, 30:33] = True
    for product in (out.mask_path, out.prob_path):
        np.testing.assert_array_equal(invalid(product), expected)


def test_read_pixels_treats_inf_as_nodata_and_zeroes_it(tmp_path):
    path = float_scene(tmp_path, "scene.tif", None)
    grid = open_grid(path)
    with rasterio.open(path) as src:
        image, valid = read_pixels(src, grid, Window(0, 0, 80, 96), "all")
    assert not valid[:20].any() and not valid[40, 10:15].any() and not valid[60, 30:33].any()
    assert valid.sum() == 96 * 80 - 20 * 80 - 5 - 3
    assert np.isfinite(image).all() and (image[:, :20] == 0).all() and image[1, 40, 10] == 0


def test_evaluate_does_not_score_inf_pixels(tmp_path):
    truth = np.zeros((64, 64), np.uint8)
    truth[10:14] = 1
    pred = truth.astype(np.float32)
    pred[:, :8] = np.inf  # would be "road" (inf > threshold) if scored
    pred[30:34, 8:] = -np.inf
    t = write_geotiff(tmp_path / "truth.tif", truth)
    r = evaluate_pair(write_geotiff(tmp_path / "pred.tif", pred), t)
    assert r.pixel.confusion.total == 64 * 64 - 64 * 8 - 4 * 56
    assert r.pixel.confusion.fp == r.pixel.confusion.fn == 0


@pytest.mark.parametrize("kind", ["uint8-nodata", "float-nan"])
def test_a_scene_without_valid_pixels_is_warned_about(tmp_path, caplog, kind):
    if kind == "uint8-nodata":
        path = write_geotiff(tmp_path / "blank.tif", np.zeros((3, 64, 64), np.uint8), nodata=0)
    else:
        path = write_geotiff(tmp_path / "blank.tif", np.full((3, 64, 64), np.nan, np.float32))
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING):
        out = predict_scene(path, TinyNet(), tmp_path / "out", **FAST)
    assert invalid(out.mask_path).all()
    (line,) = [r for r in caplog.records if "no valid pixels" in r.getMessage()]
    assert line.levelno == logging.WARNING and "blank.tif: the scene has no valid" in line.message


def test_batch_fails_an_all_nan_float_scene_like_an_all_nodata_one(tmp_path):
    from geoseg.batch.scenes import plan_scenes

    good = write_geotiff(tmp_path / "good.tif", np.ones((3, 32, 32), np.float32))
    nan = write_geotiff(tmp_path / "nan.tif", np.full((3, 32, 32), np.nan, np.float32))
    plan = plan_scenes([good, nan])
    assert [s.name for s in plan.scenes] == ["good"]
    assert [(n, why) for n, _, why in plan.unreadable] == [
        ("nan", f"{nan}: scene holds no valid pixel (all nodata)")
    ]
