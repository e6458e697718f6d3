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


def test_flips_setting_is_one_of_the_eight_lossless_views():
    image, mask = _pair()
    aug = Augment.from_setting("flips")
    views = []
    for k in range(4):
        for flip in (False, True):
            v_img = np.rot90(image, k, axes=(1, 2))
            v_msk = np.rot90(mask, k)
            if flip:
                v_img, v_msk = v_img[:, :, ::-1], v_msk[:, ::-1]
            views.append((v_img, v_msk))
    seen = set()
    for seed in range(40):
        x, y = aug(image, mask, np.random.default_rng(seed))
        match = [
            i for i, (vi, vm) in enumerate(views) if np.array_equal(vi, x) and np.array_equal(vm, y)
        ]
        assert match, seed  # the exact pixels of a rotation/reflection: no resampling, no colour
        seen.add(match[0])
    assert len(seen) >= 6  # and the views actually vary
    assert Augment.from_setting(False) is None
    assert Augment.from_setting(True) == Augment()
