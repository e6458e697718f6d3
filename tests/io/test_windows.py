import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoseg.errors import ConfigError, ParameterError
from geoseg.io.windows import (
    DEFAULT_TILE,
    WEIGHT_FLOOR,
    TileGrid,
    Window,
    blend_ramp,
    check_tile_overlap,
    default_overlap,
    halo_blocks,
    slices,
    tile_starts,
    tile_windows,
)


@st.composite
def grids(draw):
    # the one tile rule (check_tile_overlap): a multiple of 32, overlap below half a tile
    tile = draw(st.sampled_from([32, 64]))
    overlap = draw(st.integers(0, tile // 2 - 1))
    return TileGrid(draw(st.integers(1, 150)), draw(st.integers(1, 150)), tile, overlap)


@settings(max_examples=60, deadline=None)
@given(grids())
def test_tiles_cover_every_pixel_and_stay_inside(grid):
    cover = np.zeros((grid.height, grid.width), int)
    for r, c in grid:
        cover[r : r + grid.tile, c : c + grid.tile] += 1
        # a tile only runs past the border when the scene is smaller than a tile
        assert r + grid.tile <= grid.height or (r == 0 and grid.height < grid.tile)
        assert c + grid.tile <= grid.width or (c == 0 and grid.width < grid.tile)
    assert cover.min() >= 1
    for starts in (grid.row_starts, grid.col_starts):
        assert starts == sorted(set(starts))
        # neighbours overlap by at least `overlap` px (the last one is shifted inward)
        assert all(b - a <= grid.tile - grid.overlap for a, b in zip(starts, starts[1:]))
    assert len(grid) == len(list(grid))


def test_last_tile_is_shifted_inward():
    assert tile_starts(1000, 512, 64) == [0, 448, 488]
    assert tile_starts(512, 512, 64) == [0]
    assert tile_starts(100, 512, 64) == [0]
    assert tile_starts(960, 512, 64) == [0, 448]


def test_blend_ramp_is_a_symmetric_sine_taper_with_a_floor():
    ramp = blend_ramp(64, 16)
    assert ramp.shape == (64,)
    np.testing.assert_allclose(ramp, ramp[::-1])
    assert ramp.min() >= WEIGHT_FLOOR and ramp[16:48].min() == 1.0
    assert np.all(np.diff(ramp[:16]) > 0)  # rises smoothly over the overlap
    # where two tiles overlap by exactly `overlap`, the ramps sum to ~1 (no bump, no dip)
    np.testing.assert_allclose(ramp[:16] + ramp[48:], 1.0, atol=1e-6)
    np.testing.assert_array_equal(blend_ramp(32, 0), np.ones(32, np.float32))


@pytest.mark.parametrize("tile,overlap", [(0, 0), (64, 64), (64, -1)])
def test_bad_grid_parameters(tile, overlap):
    with pytest.raises(ConfigError):
        TileGrid(100, 100, tile, overlap)


# ---------------------------------------------------------------- io/windows: the one model


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 130),
    width=st.integers(1, 130),
    block=st.integers(1, 70),
    halo=st.integers(0, 40),
)
def test_halo_blocks_partition_the_grid_and_clip_their_halos(height, width, block, halo):
    core_cover = np.zeros((height, width), int)
    for b in halo_blocks(height, width, block, halo):
        assert isinstance(b.core, Window) and isinstance(b.halo, Window)
        rows, cols = slices(b.core)
        core_cover[rows, cols] += 1
        # the halo is the core grown by `halo` on every side, clipped to the grid
        h = b.halo
        assert h.row_off == max(0, b.core.row_off - halo)
        assert h.col_off == max(0, b.core.col_off - halo)
        assert h.row_off + h.height == min(height, b.core.row_off + b.core.height + halo)
        assert h.col_off + h.width == min(width, b.core.col_off + b.core.width + halo)
        assert b.inside == (
            h.row_off > 0,
            h.row_off + h.height < height,
            h.col_off > 0,
            h.col_off + h.width < width,
        )
        # the core's pixels, read from an array over the halo window, are the core's
        scene = np.arange(height * width).reshape(height, width)
        np.testing.assert_array_equal(scene[slices(h)][b.core_in_halo], scene[rows, cols])
    assert (core_cover == 1).all()  # every pixel in exactly one core


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 150),
    width=st.integers(1, 150),
    tile=st.integers(1, 64),
    data=st.data(),
)
def test_tile_windows_cover_every_pixel_inside_the_grid(height, width, tile, data):
    overlap = data.draw(st.integers(0, max(0, tile - 1)))
    cover = np.zeros((height, width), int)
    for w in tile_windows(height, width, tile, overlap):
        assert isinstance(w, Window)
        assert (w.height, w.width) == (min(tile, height), min(tile, width))
        assert w.row_off + w.height <= height and w.col_off + w.width <= width
        cover[slices(w)] += 1
    assert cover.min() >= 1
    grid = TileGrid(64, 64, 32, 8)
    assert [(w.row_off, w.col_off) for w in grid.windows()] == list(grid)


def test_validation_tiles_are_the_tile_grid_without_overlap():
    """data/samplers.grid_windows and the prediction grid step by the same rule."""
    assert [w.col_off for w in tile_windows(10, 1000, 512)] == tile_starts(1000, 512, 0)
    assert tile_starts(1000, 512, 0) == [0, 488]


def test_the_default_overlap_is_a_quarter_tile_at_most_64_and_obeys_the_rule():
    for tile in range(32, 4097, 32):
        overlap = default_overlap(tile)
        check_tile_overlap(tile, overlap)
        assert overlap == min(64, tile // 4)
    assert TileGrid(200, 200, 128).overlap == 32
    assert TileGrid(200, 200).tile == DEFAULT_TILE == 512
    assert TileGrid(200, 200).overlap == 64


@pytest.mark.parametrize(
    "tile,overlap,param,words",
    [
        (100, 0, "tile", "tile must be a positive multiple of 32, got 100"),
        (128, 64, "overlap", "overlap must be at least 0 and less than half the tile (64), got 64"),
        (128, -1, "overlap", "overlap must be at least 0"),
    ],
)
def test_the_tile_rule_names_the_parameter(tile, overlap, param, words):
    with pytest.raises(ParameterError) as err:
        TileGrid(300, 300, tile, overlap)
    assert err.value.param == param and str(err.value).startswith(words)
    assert "--" not in str(err.value)


def test_row_spans_cover_the_rows_once_from_the_start():
    from geoseg.io.windows import row_spans

    assert row_spans(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert row_spans(10, 4, start=4) == [(4, 8), (8, 10)]
    assert row_spans(3, 0) == [(0, 1), (1, 2), (2, 3)]  # a step below 1 is one row
    assert row_spans(0, 4) == []
