import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoseg.inference.stitch import Stitcher
from geoseg.io.windows import TileGrid


class RowSink:
    def __init__(self):
        self.values, self.valid, self.calls = [], [], 0

    def __call__(self, values, valid):
        self.values.append(values.copy())
        self.valid.append(valid.copy())
        self.calls += 1

    def result(self):
        return np.concatenate(self.values), np.concatenate(self.valid)


def crop(field, r, c, tile):
    """The tile a pointwise model would return: the field, symmetric-padded at the border."""
    part = field[r : r + tile, c : c + tile]
    return np.pad(part, ((0, tile - part.shape[0]), (0, tile - part.shape[1])), mode="symmetric")


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 120),
    width=st.integers(1, 120),
    tile=st.sampled_from([32, 64]),  # the one tile rule: a multiple of 32,
    overlap_frac=st.floats(0, 0.49),  # overlap below half a tile
    seed=st.integers(0, 2**16),
)
def test_stitching_a_pointwise_model_is_exact(height, width, tile, overlap_frac, seed):
    grid = TileGrid(height, width, tile, int(tile * overlap_frac))
    field = np.random.default_rng(seed).random((height, width), dtype=np.float32)
    valid = field > 0.2
    sink = RowSink()
    stitcher = Stitcher(grid, sink)
    for r, c in grid:
        stitcher.add(crop(field, r, c, tile), crop(valid, r, c, tile), r, c)
    stitcher.close()
    values, mask = sink.result()
    assert values.shape == (height, width)
    np.testing.assert_allclose(values, field, rtol=1e-5, atol=1e-6)  # no seam anywhere
    np.testing.assert_array_equal(mask, valid)


@settings(max_examples=25, deadline=None)
@given(
    height=st.integers(1, 100),
    width=st.integers(1, 100),
    tile=st.sampled_from([32, 64]),  # within the one tile rule
    overlap=st.integers(0, 15),
)
def test_weights_sum_to_one_everywhere(height, width, tile, overlap):
    """Stitching tiles of ones gives exactly one: every pixel counts once in weight."""
    grid = TileGrid(height, width, tile, overlap)
    sink = RowSink()
    stitcher = Stitcher(grid, sink)
    for r, c in grid:
        stitcher.add(np.ones((tile, tile), np.float32), np.ones((tile, tile), bool), r, c)
    stitcher.close()
    np.testing.assert_allclose(sink.result()[0], 1.0, rtol=1e-6)


def test_rows_stream_out_with_bounded_memory():
    grid = TileGrid(1000, 300, 64, 16)
    sink = RowSink()
    stitcher = Stitcher(grid, sink)
    assert stitcher.acc.shape == (64, 300)  # one tile of rows, not the scene
    first_rows_at = None
    for i, (r, c) in enumerate(grid):
        stitcher.add(np.full((64, 64), 0.5, np.float32), np.ones((64, 64), bool), r, c)
        if sink.calls and first_rows_at is None:
            first_rows_at = i
    stitcher.close()
    assert first_rows_at is not None and first_rows_at < len(grid) // 10
    assert sum(v.shape[0] for v in sink.values) == 1000


def test_tiles_out_of_order_are_refused():
    grid = TileGrid(100, 32, 32, 8)
    stitcher = Stitcher(grid, RowSink())
    tile = (np.zeros((32, 32), np.float32), np.ones((32, 32), bool))
    stitcher.add(*tile, 0, 0)
    stitcher.add(*tile, 24, 0)
    with pytest.raises(ValueError):
        stitcher.add(*tile, 0, 0)


@settings(max_examples=20, deadline=None)
@given(
    height=st.integers(1, 90),
    width=st.integers(1, 90),
    tile=st.sampled_from([32, 64]),  # within the one tile rule
    overlap=st.integers(0, 15),
    window=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_tiles_in_any_order_give_the_same_bits(height, width, tile, overlap, window, seed):
    """Tiles arriving out of order (batches finishing in any order, up to `window` tiles
    apart) are blended in grid order: the rows are bit-identical to the in-order run."""
    grid = TileGrid(height, width, tile, overlap)
    rng = np.random.default_rng(seed)
    preds = {
        o: (rng.random((tile, tile), dtype=np.float32), rng.random((tile, tile)) > 0.3)
        for o in grid
    }
    in_order, shuffled = RowSink(), RowSink()
    a = Stitcher(grid, in_order)
    for (r, c), (v, m) in preds.items():
        a.add(v, m, r, c)
    a.close()
    order = list(grid)
    for start in range(0, len(order), window):
        part = order[start : start + window]
        rng.shuffle(part)
        order[start : start + window] = part
    b = Stitcher(grid, shuffled)
    for r, c in order:
        b.add(*preds[(r, c)], r, c)
        assert b.waiting < window
    b.close()
    np.testing.assert_array_equal(shuffled.result()[0], in_order.result()[0])
    np.testing.assert_array_equal(shuffled.result()[1], in_order.result()[1])


def test_unknown_duplicate_and_missing_tiles_are_refused():
    grid = TileGrid(40, 40, 32, 8)  # tiles at rows/columns 0 and 8
    stitcher = Stitcher(grid, RowSink())
    tile = (np.zeros((32, 32), np.float32), np.ones((32, 32), bool))
    with pytest.raises(ValueError, match="no tile"):
        stitcher.add(*tile, 4, 0)
    stitcher.add(*tile, 8, 8)  # early: waits for the others
    with pytest.raises(ValueError, match="twice"):
        stitcher.add(*tile, 8, 8)
    stitcher.add(*tile, 0, 0)
    with pytest.raises(RuntimeError, match="stitched 1 of 4 tiles"):
        stitcher.close()
