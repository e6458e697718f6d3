"""Pixel metrics: hand-computed cases, sklearn cross-checks, relaxed and blockwise scoring."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score, jaccard_score, precision_score, recall_score

from geoseg.errors import DataError
from geoseg.metrics.pixel import (
    Confusion,
    PixelScores,
    RelaxedCounts,
    ScoreAccumulator,
    confusion,
    near,
    relaxed_counts,
    score_blockwise,
    score_masks,
)

PRED = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]], np.uint8)
TRUTH = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1]], np.uint8)


def test_hand_computed_confusion_and_ratios():
    c = confusion(PRED, TRUTH)
    # TP: (0,0),(1,0); FP: (0,1),(2,2); FN: (1,1),(2,3); TN: 12 - 6
    assert c == Confusion(tp=2, fp=2, fn=2, tn=6)
    assert c.iou == pytest.approx(2 / 6)
    assert c.precision == pytest.approx(0.5)
    assert c.recall == pytest.approx(0.5)
    assert c.f1 == pytest.approx(0.5)
    assert c.accuracy == pytest.approx(8 / 12)


def test_valid_mask_excludes_nodata_pixels():
    valid = np.ones_like(PRED, bool)
    valid[2, :] = False  # drops one FP and one FN and two TN
    c = confusion(PRED, TRUTH, valid)
    assert c == Confusion(tp=2, fp=1, fn=1, tn=4)
    assert c.total == 8
    assert c.iou == pytest.approx(0.5)


def test_0_255_masks_count_as_roads():
    assert confusion(PRED * 255, TRUTH * 255) == confusion(PRED, TRUTH)


def test_empty_truth_and_empty_prediction_is_perfect():
    z = np.zeros((4, 4), np.uint8)
    c = confusion(z, z)
    assert (c.iou, c.precision, c.recall, c.f1, c.accuracy) == (1.0, 1.0, 1.0, 1.0, 1.0)
    r = relaxed_counts(z, z)
    assert (r.precision, r.recall, r.f1) == (1.0, 1.0, 1.0)


def test_empty_prediction_on_roads():
    z = np.zeros_like(TRUTH)
    c = confusion(z, TRUTH)
    assert c == Confusion(tp=0, fp=0, fn=4, tn=8)
    assert (c.iou, c.precision, c.recall, c.f1) == (0.0, 1.0, 0.0, 0.0)


def test_roads_predicted_on_empty_truth():
    z = np.zeros_like(PRED)
    c = confusion(PRED, z)
    assert (c.iou, c.precision, c.recall, c.f1) == (0.0, 0.0, 1.0, 0.0)
    assert c.accuracy == pytest.approx(8 / 12)


def test_all_nodata_gives_zero_counts():
    c = confusion(PRED, TRUTH, np.zeros_like(PRED, bool))
    assert c == Confusion() and c.total == 0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in shape"):
        confusion(PRED, TRUTH[:2])


def _sk(fn, t, p, **kw):
    return fn(t.ravel(), p.ravel(), zero_division=1.0, **kw)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    p_pred=st.floats(0, 1),
    p_truth=st.floats(0, 1),
    size=st.integers(1, 12),
)
def test_matches_sklearn_on_random_masks(seed, p_pred, p_truth, size):
    rng = np.random.default_rng(seed)
    pred = rng.random((size, size + 1)) < p_pred
    truth = rng.random((size, size + 1)) < p_truth
    c = confusion(pred, truth)
    assert c.iou == pytest.approx(_sk(jaccard_score, truth, pred))
    assert c.f1 == pytest.approx(_sk(f1_score, truth, pred))
    assert c.precision == pytest.approx(_sk(precision_score, truth, pred))
    assert c.recall == pytest.approx(_sk(recall_score, truth, pred))
    assert c.accuracy == pytest.approx(accuracy_score(truth.ravel(), pred.ravel()))


def test_matches_sklearn_with_valid_mask():
    rng = np.random.default_rng(7)
    pred, truth, valid = rng.random((3, 64, 64)) < [[[0.3]], [[0.2]], [[0.8]]]
    c = confusion(pred, truth, valid)
    assert c.iou == pytest.approx(_sk(jaccard_score, truth[valid], pred[valid]))
    assert c.f1 == pytest.approx(_sk(f1_score, truth[valid], pred[valid]))


def _line(shape, row=None, col=None):
    m = np.zeros(shape, np.uint8)
    if row is not None:
        m[row, :] = 1
    else:
        m[:, col] = 1
    return m


def test_one_pixel_shift_relaxed_f1_is_one_strict_iou_zero():
    truth = _line((32, 32), row=10)
    pred = _line((32, 32), row=11)
    s = score_masks(pred, truth, rho=3)
    assert s.confusion.iou == 0.0
    assert s.relaxed == RelaxedCounts(32, 32, 32, 32)
    assert s.relaxed.f1 == 1.0


def test_relaxed_counts_respect_rho():
    truth = _line((32, 32), col=5)
    pred = _line((32, 32), col=9)  # 4 px away
    assert relaxed_counts(pred, truth, rho=3).f1 == 0.0
    assert relaxed_counts(pred, truth, rho=4).f1 == 1.0


def test_relaxed_hand_computed_partial():
    truth = np.zeros((10, 10), np.uint8)
    truth[0, 0] = 1
    pred = np.zeros((10, 10), np.uint8)
    pred[0, 2] = pred[2, 2] = pred[9, 9] = 1  # distances 2, 2.83, 12.7
    r = relaxed_counts(pred, truth, rho=2)
    assert r == RelaxedCounts(pred_near=1, pred_total=3, truth_near=1, truth_total=1)
    assert r.precision == pytest.approx(1 / 3) and r.recall == 1.0
    assert r.f1 == pytest.approx(2 * (1 / 3) / (1 + 1 / 3))


def test_near_is_a_euclidean_disk():
    m = np.zeros((9, 9), bool)
    m[4, 4] = True
    n = near(m, 3)
    yy, xx = np.mgrid[:9, :9]
    assert np.array_equal(n, (yy - 4) ** 2 + (xx - 4) ** 2 <= 9)


@pytest.mark.parametrize("block", [7, 16, 50, 200])
def test_blockwise_equals_whole_array(block):
    rng = np.random.default_rng(3)
    shape = (61, 83)
    pred = ndilate(rng.random(shape) < 0.05)
    truth = ndilate(rng.random(shape) < 0.05)
    valid = rng.random(shape) > 0.1
    whole = score_masks(pred, truth, valid, rho=3)

    def read(r, c, h, w):
        win = (slice(r, r + h), slice(c, c + w))
        return pred[win], truth[win], valid[win]

    assert score_blockwise(read, *shape, rho=3, block=block) == whole


def ndilate(m):
    from scipy import ndimage

    return ndimage.binary_dilation(m, iterations=1)


def test_accumulator_accumulated_versus_mean():
    acc = ScoreAccumulator()
    # image a: TP 1, FP 1 -> IoU 0.5; image b: TP 9, FN 1 -> IoU 0.9
    acc.add("a", PixelScores(Confusion(1, 1, 0, 8)))
    acc.add("b", PixelScores(Confusion(9, 0, 1, 0)))
    assert acc.accumulated.confusion == Confusion(10, 1, 1, 8)
    assert acc.accumulated.confusion.iou == pytest.approx(10 / 12)
    assert acc.mean()["iou"] == pytest.approx(0.7)
    with pytest.raises(ValueError):
        acc.add("a", PixelScores())


def test_accumulator_refuses_an_image_without_valid_pixels():
    acc = ScoreAccumulator()
    acc.add("a", PixelScores(Confusion(1, 1, 0, 8)))
    with pytest.raises(DataError, match="empty: no valid pixel"):
        acc.add("empty", PixelScores())  # not silently left out of the summary
    assert acc.mean()["iou"] == pytest.approx(0.5) and list(acc.per_image) == ["a"]
