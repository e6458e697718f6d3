from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from geoseg.vectorize.clean import clean_mask, fill_small_holes, remove_small_blobs
from geoseg.vectorize.skeleton import distance_to_background


def test_small_blobs_removed_unless_cut_by_the_block():
    mask = np.zeros((40, 40), bool)
    mask[5:8, 5:8] = True  # 9 px, inside
    mask[20:40, 20:22] = True  # 40 px
    mask[0:2, 30:33] = True  # 6 px on the top side
    out = remove_small_blobs(mask, 10)
    assert not out[5:8, 5:8].any() and out[20:40, 20:22].all() and not out[0:2, 30:33].any()
    kept = remove_small_blobs(mask, 10, cut=(True, False, False, False))
    assert kept[0:2, 30:33].all() and not kept[5:8, 5:8].any()


def test_small_holes_filled_open_ground_not():
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    mask[15:17, 15:17] = False  # 4 px hole
    mask[20:26, 20:26] = False  # 36 px hole
    out = fill_small_holes(mask, 10)
    assert out[15:17, 15:17].all() and not out[20:26, 20:26].any()
    assert not out[:5].any()  # background touching the border is never a hole
    assert (clean_mask(mask, 0, 0) == mask).all()


def test_distance_at_pixels_equals_edt_with_anisotropy():
    rng = np.random.default_rng(0)
    mask = ndi.binary_opening(rng.random((80, 90)) > 0.35, iterations=1)
    mask[0, :] = False
    rows, cols = np.nonzero(mask)
    for sampling in [(1.0, 1.0), (0.3, 0.24)]:
        expected = ndi.distance_transform_edt(mask, sampling=sampling)[rows, cols]
        np.testing.assert_allclose(distance_to_background(mask, rows, cols, sampling), expected)


def test_hole_filling_matches_a_full_background_count():
    rng = np.random.default_rng(1)
    mask = ndi.binary_dilation(rng.random((120, 140)) > 0.93, iterations=2)
    for limit in (3, 10, 40, 200):
        labels, n = ndi.label(~mask)
        sizes = np.bincount(labels.ravel())
        border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        fill = sizes < limit
        fill[0] = False
        fill[border] = False
        np.testing.assert_array_equal(fill_small_holes(mask, limit), mask | fill[labels])
