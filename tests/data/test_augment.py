import numpy as np

from geoseg.data.augment import Augment


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    mask = np.zeros((64, 64), np.uint8)
    mask[20:28, :] = 1
    mask[:, 40:44] = 1
    image = np.where(mask[None] == 1, 0.9, 0.2).astype(np.float32)
    image = image + rng.normal(0, 0.01, image.shape).astype(np.float32)
    return np.clip(image, 0, 1), mask


def test_mask_follows_the_image_through_every_transform():
    aug = Augment(p=1.0)
    for seed in range(8):
        image, mask = _pair()
        x, y = aug(image, mask, np.random.default_rng(seed))
        assert x.shape == image.shape and y.shape == mask.shape and y.dtype == np.uint8
        assert set(np.unique(y)) <= {0, 1}
        # Road pixels stay bright and ground stays dark after colour jitter + geometry.
        bright = x.mean(axis=0) > 0.55
        agree = (bright == (y == 1)).mean()
        assert agree > 0.97, (seed, agree)
        assert 0.5 * mask.mean() < y.mean() < 1.6 * mask.mean()


def test_geometry_changes_and_is_reproducible():
    image, mask = _pair()
    aug = Augment(p=1.0)
    a = aug(image, mask, np.random.default_rng(3))
    b = aug(image, mask, np.random.default_rng(3))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], mask)


def test_off_leaves_data_untouched():
    image, mask = _pair()
    x, y = Augment(p=0.0)(image, mask, np.random.default_rng(0))
    np.testing.assert_array_equal(x, image)
    np.testing.assert_array_equal(y, mask)


def test_colour_jitter_on_four_bands_keeps_range():
    x = np.random.default_rng(0).random((4, 16, 16)).astype(np.float32)
    out = Augment(p=1.0).colour(x, np.random.default_rng(1))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
