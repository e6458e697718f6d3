import os

import fake_models
import numpy as np
import pytest
import rasterio
import torch
from fake_models import PixelModel, pixel_model_numpy
from helpers import write_geotiff as write_scene
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoseg import predict_scene
from geoseg.checkpoint import load_checkpoint, model_from_checkpoint
from geoseg.errors import BandMismatchError, CheckpointError, ConfigError, OutputError
from geoseg.io.windows import TileGrid
from geoseg.normalize import Normalizer
from geoseg.predict import resolve_checkpoint

FAST = dict(tile=64, overlap=16, batch_size=3, device="cpu", progress=False)


def expected_prob(data, normalizer):
    return pixel_model_numpy(normalizer(data).astype(np.float64))


def read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.read_masks(1) > 0, src.profile, src.crs, src.transform


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    height=st.integers(1, 150),
    width=st.integers(1, 150),
    tile=st.sampled_from([32, 64]),
    overlap=st.integers(0, 15),
    seed=st.integers(0, 999),
)
def test_stitched_prediction_equals_the_model_on_the_whole_scene(
    tmp_path_factory, height, width, tile, overlap, seed
):
    tmp = tmp_path_factory.mktemp("exact")
    data = np.random.default_rng(seed).integers(0, 256, (3, height, width)).astype(np.uint8)
    path = write_scene(tmp / "scene.tif", data)
    result = predict_scene(
        path,
        PixelModel(),
        tmp / "out",
        tile=tile,
        overlap=overlap,
        batch_size=2,
        device="cpu",
        float_output=True,
        progress=False,
    )
    prob, valid, *_ = read(result.prob_path)
    norm = Normalizer.for_dtype("uint8", [0.5] * 3, [0.25] * 3)
    np.testing.assert_allclose(prob, expected_prob(data, norm), atol=2e-6)
    assert valid.all()
    assert result.n_tiles == len(TileGrid(height, width, tile, overlap))


def test_outputs_keep_the_grid_and_the_nodata_collar(tmp_path):
    data = np.random.default_rng(0).integers(1, 256, (3, 130, 170)).astype(np.uint8)
    data[:, :12] = 0  # collar: top rows and right columns are nodata
    data[:, :, -9:] = 0
    path = write_scene(
        tmp_path / "collar.tif",
        data,
        crs="EPSG:32631",
        res=0.3,
        origin=(431000.0, 5412000.0),
        nodata=0,
    )
    result = predict_scene(
        path, PixelModel(), tmp_path / "out", threshold=0.55, overviews=True, preview=True, **FAST
    )
    prob, pvalid, profile, crs, transform = read(result.prob_path)
    mask, mvalid, mprofile, *_ = read(result.mask_path)
    with rasterio.open(path) as src:
        assert crs == src.crs and transform == src.transform
        assert (profile["width"], profile["height"]) == (src.width, src.height)
    assert profile["dtype"] == "uint8" and mprofile["dtype"] == "uint8"
    assert profile["tiled"] and profile["compress"] == "deflate"
    collar = ~(data != 0).any(0)
    np.testing.assert_array_equal(~pvalid, collar)
    np.testing.assert_array_equal(~mvalid, collar)
    assert prob[collar].max() == 0 and mask[collar].max() == 0  # nodata is never a road
    expected = expected_prob(data, Normalizer.for_dtype("uint8", [0.5] * 3, [0.25] * 3))
    assert np.abs(prob[~collar] - np.rint(expected[~collar] * 255)).max() <= 1
    np.testing.assert_array_equal(mask[~collar], expected[~collar] >= 0.55)
    assert 0 < mask.mean() < 1
    with rasterio.open(result.prob_path) as src:
        assert src.overviews(1)  # --overviews
    assert result.preview_path.stat().st_size > 0
    assert result.megapixels_per_s > 0 and result.n_tiles == 3 * 4


def test_band_selection_and_uint16_input(tmp_path):
    data = np.random.default_rng(1).integers(0, 2048, (4, 90, 70)).astype(np.uint16)
    path = write_scene(tmp_path / "pan.tif", data)
    norm = Normalizer((0.0,) * 2, (2047.0,) * 2, (0.4,) * 2, (0.2,) * 2)
    result = predict_scene(
        path, PixelModel(2), tmp_path, bands="4,2", normalizer=norm, float_output=True, **FAST
    )
    prob, *_ = read(result.prob_path)
    np.testing.assert_allclose(prob, expected_prob(data[[3, 1]], norm), atol=2e-6)
    # without a normaliser, the module's mean/std are applied over the uint16 range
    result = predict_scene(
        path, PixelModel(2), tmp_path / "auto", bands=[1, 3], float_output=True, **FAST
    )
    prob, *_ = read(result.prob_path)
    auto = Normalizer.for_dtype("uint16", [0.5] * 2, [0.25] * 2)
    np.testing.assert_allclose(prob, expected_prob(data[[0, 2]], auto), atol=2e-6)


def test_wrong_band_count_is_refused_before_any_output(tmp_path):
    path = write_scene(tmp_path / "rgba.tif", np.ones((4, 40, 40), np.uint8))
    with pytest.raises(
        BandMismatchError, match="4 bands selected but the model expects 3.*bands=1,2,3"
    ):
        predict_scene(path, PixelModel(3), tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    "kw",
    [dict(tile=100), dict(overlap=40), dict(batch_size=0), dict(threshold=1.5), dict(tta="d8")],
)
def test_bad_parameters(tmp_path, kw):
    path = write_scene(tmp_path / "s.tif", np.ones((3, 40, 40), np.uint8))
    with pytest.raises(ConfigError):
        predict_scene(path, PixelModel(), tmp_path, **{**FAST, **kw})


def test_a_failure_midway_leaves_no_output(tmp_path):
    class Exploding(PixelModel):
        calls = 0

        def forward(self, x):
            Exploding.calls += 1
            if Exploding.calls > 2:
                raise RuntimeError("out of memory")
            return super().forward(x)

    path = write_scene(tmp_path / "big.tif", np.ones((3, 300, 300), np.uint8))
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        predict_scene(path, Exploding(), out, **{**FAST, "batch_size": 1})
    assert list(out.iterdir()) == []


def test_real_checkpoint_roundtrip_threshold_bands_and_alpha(tmp_path):
    ckpt = fake_models.save_tiny_checkpoint(tmp_path / "m.pt", bands=[3, 2, 1], threshold=0.45)
    data = np.random.default_rng(2).integers(0, 256, (4, 64, 64)).astype(np.uint8)
    data[3] = 255
    data[3, 50:, :10] = 0  # GDAL reads band 4 of a uint8 RGBA TIFF as alpha: transparent = nodata
    path = write_scene(tmp_path / "s.tif", data)
    result = predict_scene(path, ckpt, tmp_path / "out", float_output=True, amp=False, **FAST)
    assert result.n_tiles == 1
    prob, valid, *_ = read(result.prob_path)
    mask, *_ = read(result.mask_path)
    np.testing.assert_array_equal(valid, data[3] > 0)
    np.testing.assert_array_equal(mask, (prob >= 0.45) & valid)  # the checkpoint's threshold
    # one tile = the whole scene: exactly the rebuilt network on bands 3,2,1, normalised
    # the checkpoint's way
    loaded = load_checkpoint(ckpt)
    net = model_from_checkpoint(loaded).eval()
    norm = Normalizer.from_dict(loaded["normalizer"])
    with torch.inference_mode():
        whole = torch.sigmoid(net(torch.from_numpy(norm(data[[2, 1, 0]])[None])))[0, 0].numpy()
    np.testing.assert_allclose(prob[valid], whole[valid], atol=1e-5)
    assert prob[~valid].max() == 0
    # the same checkpoint as a dict, or as the module plus its normaliser, gives the same
    again = predict_scene(
        path,
        net,
        tmp_path / "again",
        bands="3,2,1",
        normalizer=norm,
        float_output=True,
        amp=False,
        **FAST,
    )
    np.testing.assert_array_equal(read(again.prob_path)[0], prob)
    # mixed precision (bf16 on CUDA or on a CPU with AMX/AVX512-BF16; fp32 elsewhere)
    # stays within bf16 rounding of the fp32 result
    mixed = predict_scene(
        path,
        net,
        tmp_path / "amp",
        bands="3,2,1",
        normalizer=norm,
        float_output=True,
        amp=True,
        **FAST,
    )
    np.testing.assert_allclose(read(mixed.prob_path)[0], prob, atol=2e-2)


def test_tiled_real_model_has_no_seams(tmp_path):
    """A real network across tiles: blended tile borders stay close to one big forward."""
    ckpt = load_checkpoint(fake_models.save_tiny_checkpoint(tmp_path / "m.pt"))
    data = np.random.default_rng(5).integers(0, 256, (3, 96, 128)).astype(np.uint8)
    path = write_scene(tmp_path / "s.tif", data)
    result = predict_scene(path, ckpt, tmp_path, float_output=True, **FAST)
    assert result.n_tiles == 2 * 3
    prob = read(result.prob_path)[0]
    net = model_from_checkpoint(ckpt).eval()
    norm = Normalizer.from_dict(ckpt["normalizer"])
    with torch.inference_mode():
        whole = torch.sigmoid(net(torch.from_numpy(norm(data)[None])))[0, 0].numpy()
    # no jump at tile borders larger than the model's own pixel-to-pixel variation
    step = np.abs(np.diff(prob, axis=1))
    assert step[:, [47, 63, 111]].max() <= np.abs(np.diff(whole, axis=1)).max() + 1e-6
    assert np.corrcoef(prob.ravel(), whole.ravel())[0, 1] > 0.5


def test_resolve_checkpoint_finds_the_newest_and_checks_the_arch(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    old = fake_models.save_tiny_checkpoint(models / "linknet_test_resnet_20240101-000000.pt")
    new = fake_models.save_tiny_checkpoint(models / "linknet_test_resnet_20250101-000000.pt")
    os.utime(old, (1, 1))
    assert resolve_checkpoint(backbone="test_resnet", models_dir=models)["path"] == str(new)
    found = resolve_checkpoint(arch="linknet", backbone="test_resnet", models_dir=models)
    assert found["path"] == str(new)
    # the hint names only configs that exist
    with pytest.raises(
        CheckpointError,
        match=r"sets model.arch: unet and model.backbone: "
        r"test_resnet \(start from `geoseg configs \w+ > my.yaml`",
    ):
        resolve_checkpoint(arch="unet", backbone="test_resnet", models_dir=models)
    with pytest.raises(
        CheckpointError,
        match=r"train one with `geoseg train -c demo \.\.\.`.*"
        "models_dir=DIR",
    ):
        resolve_checkpoint(backbone="resnet18", models_dir=models)
    with pytest.raises(CheckpointError, match=r"`geoseg train -c unet_vgg16 \.\.\.`"):
        resolve_checkpoint(arch="unet", backbone="vgg16", models_dir=models)
    with pytest.raises(CheckpointError, match="is a linknet model, not dlinknet"):
        resolve_checkpoint(new, arch="dlinknet")


def test_unwritable_output(tmp_path):
    path = write_scene(tmp_path / "s.tif", np.ones((3, 40, 40), np.uint8))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        predict_scene(path, PixelModel(), blocker / "out", **FAST)
