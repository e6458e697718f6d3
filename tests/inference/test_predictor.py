import numpy as np
import pytest
import torch
from fake_models import PixelModel, TinyNet

from geoseg.errors import ConfigError
from geoseg.inference.predictor import TilePredictor, tta_views

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


def test_batches_in_flight_come_back_in_any_order():
    net = TinyNet()
    predictor = TilePredictor(net, CPU, depth=3)
    batches = [tiles(seed) for seed in range(3)]
    handles = [predictor.submit(b) for b in batches]
    got = [predictor.result(handles[i]) for i in (2, 0, 1)]
    for i, probs in zip((2, 0, 1), got):
        np.testing.assert_array_equal(probs, TilePredictor(net, CPU)(batches[i]))
    assert TilePredictor(TinyNet(), CPU).depth == 1  # computed at submit without CUDA


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_streams_and_pinned_buffers_give_the_cpu_result():
    torch.manual_seed(0)
    net = TinyNet()
    cpu = TilePredictor(net, CPU, amp=False)
    gpu = TilePredictor(net, torch.device("cuda"), amp=False)
    assert gpu.depth == 2
    batches = [tiles(seed, n=4 - seed) for seed in range(4)]  # a short last batch
    handles, got = [], []
    for b in batches:  # two in flight, as the pipeline runs them
        if len(handles) == gpu.depth:
            got.append(gpu.result(handles.pop(0)))
        handles.append(gpu.submit(b))
    got += [gpu.result(h) for h in handles]
    for b, probs in zip(batches, got):
        np.testing.assert_allclose(probs, cpu(b), atol=1e-4)
    assert gpu.times.as_dict()["compute"] > 0
    from geoseg.normalize import Normalizer  # raw uint8 tiles, normalised on the GPU

    raw = np.random.default_rng(5).integers(0, 256, (3, 3, 32, 32)).astype(np.uint8)
    norm = Normalizer.for_dtype("uint8", [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    np.testing.assert_allclose(
        gpu.result(gpu.submit(raw, norm)), cpu(np.stack([norm(t) for t in raw])), atol=1e-4
    )


@pytest.mark.parametrize("low,high", [(0, 255), (10, 200)])  # the second needs the clip
def test_raw_uint8_tiles_normalised_on_the_device_match_the_normaliser(low, high):
    from geoseg.normalize import Normalizer

    raw = np.random.default_rng(4).integers(0, 256, (3, 3, 32, 32)).astype(np.uint8)
    norm = Normalizer((low,) * 3, (high,) * 3, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    net = TinyNet()
    predictor = TilePredictor(net, CPU, amp=False)
    x = predictor._normalize(torch.from_numpy(raw), norm)
    assert x.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(x.numpy(), np.stack([norm(t) for t in raw]))  # same bits
    on_device = predictor.result(predictor.submit(raw, norm))
    np.testing.assert_array_equal(on_device, predictor(np.stack([norm(t) for t in raw])))
