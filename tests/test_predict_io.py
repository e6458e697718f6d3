"""predict_scene's I/O options: outputs identical whatever the threads, the completion order
or the compression; --outputs, --compress, --cog (validated with rio-cogeo)."""

import functools
import random

import numpy as np
import pytest
import rasterio
import torch
from fake_models import TinyNet
from helpers import write_geotiff

import geoseg.inference.pipeline as pipeline
import geoseg.predict
from geoseg import predict_scene
from geoseg.errors import ConfigError
from geoseg.inference.predictor import TilePredictor

FAST = dict(tile=64, overlap=16, batch_size=2, device="cpu", progress=False, amp=False)


def scene(tmp_path, h=150, w=130):
    rng = np.random.default_rng(3)
    data = rng.integers(0, 255, (3, h, w)).astype(np.uint8)
    data[:, :9, :] = 0  # a nodata collar
    return write_geotiff(tmp_path / "scene.tif", data, nodata=0)


def net():
    torch.manual_seed(0)
    return TinyNet()


def contents(path):
    with rasterio.open(path) as src:
        return src.read(1), src.read_masks(1), src.profile


@pytest.mark.parametrize("float_output", [True, False])
def test_outputs_do_not_depend_on_threads_completion_order_or_compression(
    tmp_path, monkeypatch, float_output
):
    path = scene(tmp_path)
    ref = predict_scene(path, net(), tmp_path / "ref", threads=1, float_output=float_output, **FAST)
    ref_prob, ref_mask = contents(ref.prob_path), contents(ref.mask_path)
    assert ref_mask[1].min() == 0 and ref_mask[0].max() == 1  # a collar, and some roads

    rng = random.Random(0)
    picks = []

    def shuffled(in_flight):
        picks.append(rng.randrange(len(in_flight)))
        return picks[-1]

    monkeypatch.setattr(pipeline, "next_completed", shuffled)
    monkeypatch.setattr(geoseg.predict, "TilePredictor", functools.partial(TilePredictor, depth=4))
    for threads, compress in [(4, "zstd"), (3, "lzw"), (2, "none"), (4, "deflate")]:
        out = predict_scene(
            path,
            net(),
            tmp_path / f"{threads}{compress}",
            threads=threads,
            compress=compress,
            float_output=float_output,
            **FAST,
        )
        for got, want in ((contents(out.prob_path), ref_prob), (contents(out.mask_path), ref_mask)):
            np.testing.assert_array_equal(got[0], want[0])  # the same values, bit for bit
            np.testing.assert_array_equal(got[1], want[1])  # the same nodata
            assert got[2].get("compress") == (None if compress == "none" else compress)
    assert any(picks)  # batches really were completed out of submission order


def test_compression_and_predictor_on_disk(tmp_path):
    path = scene(tmp_path, 70, 70)
    r = predict_scene(path, net(), tmp_path / "z", compress="zstd", float_output=True, **FAST)
    with rasterio.open(r.prob_path) as src:
        assert (
            src.compression.name == "zstd"
            and src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "3"
        )
    with rasterio.open(r.mask_path) as src:
        assert (
            src.compression.name == "zstd"
            and src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "2"
        )
    with pytest.raises(ConfigError, match="unknown compression 'jpeg'"):
        predict_scene(path, net(), tmp_path / "bad", compress="jpeg", **FAST)
    assert not (tmp_path / "bad").exists()


def test_only_the_outputs_asked_for_are_written(tmp_path):
    path = scene(tmp_path, 70, 70)
    both = predict_scene(path, net(), tmp_path / "both", **FAST)
    only = predict_scene(path, net(), tmp_path / "mask", outputs="mask", **FAST)
    assert only.prob_path is None and [p.name for p in (tmp_path / "mask").iterdir()] == [
        "scene_mask.tif"
    ]
    np.testing.assert_array_equal(contents(only.mask_path)[0], contents(both.mask_path)[0])
    prob = predict_scene(path, net(), tmp_path / "prob", outputs=["prob"], **FAST)
    assert prob.mask_path is None and [p.name for p in (tmp_path / "prob").iterdir()] == [
        "scene_prob.tif"
    ]
    for bad, message in [("roads", "unknown output 'roads'"), ("", "no output chosen")]:
        with pytest.raises(ConfigError, match=message):
            predict_scene(path, net(), tmp_path / "bad", outputs=bad, **FAST)
    with pytest.raises(ConfigError, match="preview draws the mask"):
        predict_scene(path, net(), tmp_path / "bad", outputs="prob", preview=True, **FAST)
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("compress", ["deflate", "zstd"])
def test_cog_outputs_are_valid_cloud_optimized_geotiffs(tmp_path, compress):
    from rio_cogeo.cogeo import cog_validate

    path = scene(tmp_path, 600, 520)  # big enough for two overview levels of 256-px tiles
    plain = predict_scene(path, net(), tmp_path / "plain", **FAST)
    cog = predict_scene(path, net(), tmp_path / "cog", cog=True, compress=compress, **FAST)
    assert sorted(p.name for p in (tmp_path / "cog").iterdir()) == [
        "scene_mask.tif",
        "scene_prob.tif",
    ]  # no intermediate left behind
    for got, want in ((cog.prob_path, plain.prob_path), (cog.mask_path, plain.mask_path)):
        valid, errors, warnings = cog_validate(str(got), strict=True)
        assert valid, (errors, warnings)
        with rasterio.open(got) as src, rasterio.open(want) as ref:
            assert src.overviews(1) == [2, 4] and src.block_shapes[0] == (256, 256)
            assert src.compression.name == compress and src.crs == ref.crs
            assert src.transform == ref.transform
            np.testing.assert_array_equal(src.read(1), ref.read(1))
            np.testing.assert_array_equal(src.read_masks(1), ref.read_masks(1))
            assert rasterio.enums.MaskFlags.per_dataset in src.mask_flag_enums[0]
