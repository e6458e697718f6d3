import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoseg.errors import ConfigError
from geoseg.io.windows import WEIGHT_FLOOR, TileGrid, blend_ramp, tile_starts


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
