"""overlay_png: quick-look PNGs of an image with a road mask over it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from geoseg.errors import BandMismatchError
from geoseg.viz import overlay_png, to_display


def scene(h=200, w=300):
    rng = np.random.default_rng(0)
    image = rng.integers(90, 110, (3, h, w), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[90:110, :] = 1  # a horizontal road band
    return image, mask


def test_road_is_tinted_and_background_kept(tmp_path):
    image, mask = scene()
    path = overlay_png(image, mask, tmp_path / "p.png", max_size=150)
    out = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert out.shape == (100, 150, 3)  # longest side 150, aspect kept
    road, back = out[48:52], out[:30]
    assert (road[..., 0] - road[..., 1]).mean() > 60  # red over the road
    assert abs(back[..., 0] - back[..., 1]).mean() < 10  # grey background untouched


def test_side_by_side_and_probabilities(tmp_path):
    image, mask = scene()
    prob = mask.astype(np.float32) * 0.5
    path = overlay_png(image, prob, tmp_path / "s.png", max_size=600, side_by_side=True)
    out = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert out.shape == (200, 600, 3)
    left, right = out[:, :300], out[:, 300:]
    assert abs(left[100, :, 0] - left[100, :, 1]).mean() < 10  # plain copy on the left
    assert (right[100, :, 0] - right[100, :, 1]).mean() > 30


def test_multiband_uint16_is_stretched():
    rng = np.random.default_rng(1)
    image = rng.integers(200, 1800, (4, 32, 32)).astype(np.uint16)
    rgb = to_display(image, rgb=(2, 1, 0))
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
    assert rgb.min() == 0 and rgb.max() == 255
    with pytest.raises(BandMismatchError):
        to_display(image, rgb=(4, 1, 0))


def test_mask_shape_mismatch(tmp_path):
    image, _ = scene()
    with pytest.raises(BandMismatchError):
        overlay_png(image, np.zeros((5, 5), np.uint8), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
