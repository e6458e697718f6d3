"""Blend overlapping tile predictions into full-width rows, streaming them out.

The blending window is separable (``ramp ⊗ ramp``, :func:`~geoseg.io.windows.blend_ramp`)
and the tiles form a grid (row starts × column starts), so the total weight at a pixel is
``R(y)·C(x)``, the ramps summed along each axis.  Each tile is therefore blended with its
weights already divided by that total, ``(ramp/R) ⊗ (ramp/C)``: one multiply-add per
tile pixel, no weight accumulator and no division (the few distinct weight tiles — first,
inner and last rows/columns — are computed once).

The :class:`Stitcher` holds accumulators (blended sum, validity) for one band of
``tile`` rows only.  Tiles are blended in the grid's row-major order whatever order they
arrive in: a tile that comes early waits in a small reorder buffer until the tiles before
it are in, so the floating-point sums — and so the outputs — are the same bits however
many workers there are and whichever batch finishes first.  When the first tile of a new
tile row is blended, no later tile can touch the rows above it, so those rows are
normalised (sum / weight) and handed to the sink at once.  Memory is O(tile × width)
plus the tiles waiting, independent of the scene height.

Given a :class:`~geoseg.inference.rowrange.RowRange` instead of the whole grid, the
stitcher blends the range's tiles with the whole grid's weights and emits only the
range's rows: the same values as those rows of the whole scene's run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from geoseg.inference.rowrange import RowRange
from geoseg.io.windows import TileGrid, blend_ramp

# sink(values (rows, width) float32, valid (rows, width) bool), called top to bottom
Sink = Callable[[np.ndarray, np.ndarray], None]


class Stitcher:
    """Weighted-average stitching of tiles of a :class:`TileGrid` into a row sink."""

    def __init__(self, grid: TileGrid, sink: Sink) -> None:
        self.grid = grid
        self.sink = sink
        rows = grid.band_height
        self.acc = np.zeros((rows, grid.width), np.float32)
        self.valid = np.zeros((rows, grid.width), bool)
        self._scratch = np.empty((grid.tile, grid.tile), np.float32)
        whole = grid.whole if isinstance(grid, RowRange) else grid
        #: the output rows [start, end) this stitcher emits (all of them for a TileGrid)
        self.start, self.end = (
            (grid.start, grid.end) if isinstance(grid, RowRange) else (0, grid.height)
        )
        self._row_weights = _axis_weights(grid.height, whole.row_starts, grid.tile, grid.overlap)
        self._col_weights = _axis_weights(grid.width, grid.col_starts, grid.tile, grid.overlap)
        self._windows: dict[tuple[bytes, bytes], np.ndarray] = {}
        # scene row held in accumulator row 0
        self.top = grid.row_starts[0] if grid.row_starts else self.start
        self.emitted = 0
        # a tile's index in grid order, computed (no per-tile table: O(rows + columns))
        self._rows = {r: i for i, r in enumerate(grid.row_starts)}
        self._cols = {c: i for i, c in enumerate(grid.col_starts)}
        self._next = 0  # index in grid order of the next tile to blend
        self._waiting: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def waiting(self) -> int:
        """Tiles received ahead of their turn, not blended yet."""
        return len(self._waiting)

    def add(self, values: np.ndarray, valid: np.ndarray, row_off: int, col_off: int) -> None:
        """Take one ``(tile, tile)`` prediction whose window starts at (row_off, col_off);
        it is blended once every tile before it in grid order has been."""
        if row_off not in self._rows or col_off not in self._cols:
            raise ValueError(f"no tile of the grid starts at row {row_off}, column {col_off}")
        i = self._rows[row_off] * len(self._cols) + self._cols[col_off]
        if i < self._next or i in self._waiting:
            raise ValueError(f"tile at row {row_off}, column {col_off} arrived twice")
        self._waiting[i] = (values, valid)
        while self._next in self._waiting:
            tile = self._waiting.pop(self._next)
            row, col = divmod(self._next, len(self._cols))
            self._blend(*tile, self.grid.row_starts[row], self.grid.col_starts[col])
            self._next += 1

    def _blend(self, values: np.ndarray, valid: np.ndarray, row_off: int, col_off: int) -> None:
        if row_off > self.top:
            self._emit(row_off - self.top)
        h = min(self.grid.tile, self.grid.height - row_off)
        w = min(self.grid.tile, self.grid.width - col_off)
        r = row_off - self.top
        cols = slice(col_off, col_off + w)
        weight = self._window(row_off, col_off)
        scratch = self._scratch[:h, :w]
        np.multiply(values[:h, :w], weight, out=scratch)
        acc = self.acc[r : r + h, cols]
        np.add(acc, scratch, out=acc)
        self.valid[r : r + h, cols] = valid[:h, :w]

    def _window(self, row_off: int, col_off: int) -> np.ndarray:
        """The normalised (h, w) weights of the tile at (row_off, col_off)."""
        (a_key, a), (b_key, b) = self._row_weights[row_off], self._col_weights[col_off]
        window = self._windows.get((a_key, b_key))
        if window is None:
            window = np.outer(a, b).astype(np.float32)
            self._windows[(a_key, b_key)] = window
        return window

    def close(self) -> None:
        """Emit the remaining rows; every output row has then gone to the sink once."""
        if self._next != len(self.grid):
            raise RuntimeError(f"stitched {self._next} of {len(self.grid)} tiles")
        self._emit(min(self.grid.height - self.top, self.acc.shape[0]))
        if self.emitted != self.end - self.start:
            raise RuntimeError(f"stitched {self.emitted} of {self.end - self.start} rows")

    def _emit(self, n: int) -> None:
        if n <= 0:
            return
        # rows [top, top + n) are final; those inside [start, end) go to the sink
        a, b = max(self.top, self.start) - self.top, min(self.top + n, self.end) - self.top
        if b > a:
            self.sink(self.acc[a:b].copy(), self.valid[a:b].copy())  # the sink owns both
            self.emitted += b - a
        keep = self.acc.shape[0] - n
        for buf in (self.acc, self.valid):
            buf[:keep] = buf[n:]
            buf[keep:] = 0
        self.top += n


def _axis_weights(
    size: int, starts: list[int], tile: int, overlap: int
) -> dict[int, tuple[bytes, np.ndarray]]:
    """Per tile start along one axis: (key, ``ramp / total``) over the tile's extent inside
    the scene, where total is the sum of the ramps of every tile covering the pixel.
    Equal weight vectors share a key, so their 2-D windows are computed once."""
    ramp = blend_ramp(tile, overlap).astype(np.float64)
    total = np.zeros(size, np.float64)
    for s in starts:
        n = min(tile, size - s)
        total[s : s + n] += ramp[:n]
    if not (total > 0).all():
        raise RuntimeError("some pixels are not covered by any tile")
    out = {}
    for s in starts:
        n = min(tile, size - s)
        weights = ramp[:n] / total[s : s + n]
        out[s] = (weights.tobytes(), weights)
    return out
