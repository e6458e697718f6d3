"""Row ranges of a tile grid: the rows of a range are the same bits as those rows of the
whole scene's stitching, and reading starts at the range, not at the top."""

from __future__ import annotations

import numpy as np
import pytest

from geoseg.errors import ConfigError
from geoseg.inference.bands import RowBands
from geoseg.inference.rowrange import RowRange, split_rows
from geoseg.inference.stitch import Stitcher
from geoseg.io.raster import open_scene
from geoseg.io.windows import TileGrid
from tests.helpers import write_geotiff


def _stitch(grid, tiles):
    rows: list[np.ndarray] = []
    valid: list[np.ndarray] = []
    st = Stitcher(grid, lambda v, m: (rows.append(v), valid.append(m)))
    for r, c in grid:
        st.add(tiles[r, c][0], tiles[r, c][1], r, c)
    st.close()
    if not rows:
        return np.zeros((0, grid.width), np.float32), np.zeros((0, grid.width), bool)
    return np.concatenate(rows), np.concatenate(valid)


@pytest.mark.parametrize("height,parts", [(301, 2), (301, 3), (64, 2), (500, 7), (97, 5)])
def test_ranges_stitch_to_the_whole_scene_bit_for_bit(height, parts):
    grid = TileGrid(height, 150, 64, 16)
    rng = np.random.default_rng(height + parts)
    tiles = {
        (r, c): (rng.random((64, 64), np.float32), rng.random((64, 64)) > 0.1) for r, c in grid
    }
    whole, whole_valid = _stitch(grid, tiles)
    pieces = [
        _stitch(RowRange.of(grid, *split_rows(height, parts, i)), tiles) for i in range(parts)
    ]
    assert np.concatenate([p[0] for p in pieces]).tobytes() == whole.tobytes()
    assert (np.concatenate([p[1] for p in pieces]) == whole_valid).all()


def test_a_range_takes_only_the_tile_rows_touching_it():
    grid = TileGrid(300, 100, 64, 16)  # row starts 0, 48, 96, 144, 192, 236
    assert grid.row_starts == [0, 48, 96, 144, 192, 236]
    part = RowRange.of(grid, 100, 150)
    assert part.row_starts == [48, 96, 144] and len(part) == 3 * len(grid.col_starts)
    assert RowRange.of(grid, 0, 300).row_starts == grid.row_starts
    assert RowRange.of(grid, 120, 120).row_starts == []
    with pytest.raises(ConfigError, match="row range"):
        RowRange.of(grid, 200, 400)
    assert [split_rows(10, 3, i) for i in range(3)] == [(0, 3), (3, 6), (6, 10)]


def test_reading_a_range_starts_at_its_first_tile_row(tmp_path):
    image = np.arange(3 * 400 * 90, dtype=np.uint32).reshape(3, 400, 90).astype(np.uint16)
    scene = open_scene(write_geotiff(tmp_path / "s.tif", image), None)
    part = RowRange.of(TileGrid(400, 90, 64, 16), 250, 330)
    bands = RowBands(scene, part, workers=2)
    reads: list[tuple[int, int]] = []
    read = bands._read
    bands._read = lambda top, bottom: (reads.append((top, bottom)), read(top, bottom))[1]
    got = list(bands)
    assert [r for r, _, _ in got] == part.row_starts
    for row_off, band, _ in got:
        assert (band == image[:, row_off : row_off + 64]).all()
    assert min(top for top, _ in reads) >= part.row_starts[0] - 64  # not from the top
