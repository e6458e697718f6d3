import numpy as np
import pytest
import torch

from fake_models import PixelModel, TinyNet
from geoseg.errors import ConfigError, RasterReadError
from geoseg.inference.predictor import TilePredictor, read_batches, tta_views
from geoseg.inference.tiling import TileGrid
from geoseg.io.raster import open_scene

CPU = torch.device("cpu")


def tiles(seed=0, n=2, c=3, size=32):
    return np.random.default_rng(seed).standard_normal((n, c, size, size)).astype(np.float32)


def test_tta_views_and_unknown_mode():
    assert len(tta_views("none")) == 1 and len(tta_views("flip")) == 4 and len(tta_views("d4")) == 8
    assert len(set(tta_views("d4"))) == 8
    with pytest.raises(ConfigError):
        tta_views("d8")


@pytest.mark.parametrize("tta", ["flip", "d4"])
def test_tta_of_a_pointwise_model_changes_nothing(tta):
    x = tiles()
    plain = TilePredictor(PixelModel(), CPU)(x)
    np.testing.assert_allclose(TilePredictor(PixelModel(), CPU, tta=tta)(x), plain, atol=1e-6)
    assert plain.shape == (2, 32, 32) and 0 < plain.min() and plain.max() < 1


def test_d4_tta_makes_any_model_rotation_equivariant():
    torch.manual_seed(0)
    net = TinyNet()
    with torch.no_grad():  # a strongly direction-sensitive kernel
        net.body[0].weight.mul_(5)
    x = tiles(1)
    rotated = np.ascontiguousarray(np.rot90(x, 1, (-2, -1)))
    plain = TilePredictor(net, CPU)
    assert not np.allclose(plain(rotated), np.rot90(plain(x), 1, (-2, -1)), atol=1e-3)
    d4 = TilePredictor(net, CPU, tta="d4")
    np.testing.assert_allclose(d4(rotated), np.rot90(d4(x), 1, (-2, -1)), atol=1e-5)
    flip = TilePredictor(net, CPU, tta="flip")
    np.testing.assert_allclose(flip(x[..., ::-1].copy()), flip(x)[..., ::-1], atol=1e-5)


def test_model_with_wrong_output_shape_is_reported():
    class Bad(torch.nn.Module):
        def forward(self, x):
            return x  # 3 channels, not 1

    with pytest.raises(ValueError, match="expected"):
        TilePredictor(Bad(), CPU)(tiles())


def test_read_batches_yields_grid_order(geotiff_factory):
    data = np.arange(3 * 70 * 50, dtype=np.uint16).reshape(3, 70, 50)
    scene = open_scene(geotiff_factory(data))
    grid = TileGrid(70, 50, 32, 8)
    batches = list(read_batches(scene, grid, 3, lambda a: a.astype(np.float32)))
    offsets = [o for b in batches for o in b.offsets]
    assert offsets == list(grid)
    assert [len(b.offsets) for b in batches][:-1] == [3] * (len(batches) - 1)
    first = batches[0]
    assert first.images.shape == (3, 3, 32, 32) and first.images.dtype == np.float32
    assert first.offsets[1] == (0, 18)  # last column shifted inward
    np.testing.assert_array_equal(first.images[1], data[:, 0:32, 18:50])
    assert first.valid.all()


def test_reader_errors_reach_the_caller(geotiff_factory):
    scene = open_scene(geotiff_factory(np.zeros((1, 40, 40), np.uint8)))

    def broken(_):
        raise RasterReadError("x.tif: cannot read pixels")

    with pytest.raises(RasterReadError):
        list(read_batches(scene, TileGrid(40, 40, 32, 0), 2, broken))
