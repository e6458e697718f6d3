"""Windows over a raster grid, all on rasterio's :class:`~rasterio.windows.Window`.

Two shapes of window cover a ``height``×``width`` grid, and every stage uses one of them:

- **Tiles with overlap** (:func:`tile_starts`, :func:`tile_windows`, :class:`TileGrid`):
  ``tile`` px windows stepping by ``tile - overlap``; the last row and column is shifted
  inward so every tile lies inside the grid and every pixel is covered (some twice, where
  tiles overlap).  Along an axis shorter than a tile there is one tile at 0.  Prediction
  (:class:`TileGrid`, whose tiles then run past the border: the reader reflect-pads them)
  and validation windows (:func:`tile_windows`, overlap 0, clipped to the grid) use it.
- **Blocks with a halo** (:func:`halo_blocks`): square *cores* of ``block`` px that
  partition the grid (every pixel in exactly one core; the last ones are cut at the edge),
  each read with ``halo`` px of context around it, clipped at the grid's edges.  Metrics
  (relaxed counts need ``rho`` px of context) and vectorization use it.

:class:`TileGrid` also owns the prediction tile rules (:func:`check_tile_overlap`) and
defaults (:data:`DEFAULT_TILE`, :func:`default_overlap`); the library, the CLI and configs
read them from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from rasterio.windows import Window

from geoseg.errors import ConfigError, ParameterError

__all__ = [
    "DEFAULT_TILE",
    "STRIDE",
    "WEIGHT_FLOOR",
    "HaloBlock",
    "TileGrid",
    "Window",
    "blend_ramp",
    "blend_window",
    "check_tile_overlap",
    "default_overlap",
    "grow",
    "halo_blocks",
    "tile_starts",
    "tile_windows",
]

STRIDE = 32  # encoders downsample by 32: prediction tiles must be a multiple of it
DEFAULT_TILE = 512  # prediction tile when neither the caller nor the checkpoint gives one
MAX_DEFAULT_OVERLAP = 64
WEIGHT_FLOOR = 1e-3  # keeps every pixel's total weight > 0, even at a tile's very edge


def default_overlap(tile: int) -> int:
    """The overlap used when none is given: a quarter of the tile, at most 64 px (always
    within :func:`check_tile_overlap`'s rule for a valid tile)."""
    return min(MAX_DEFAULT_OVERLAP, tile // 4)


def check_tile_overlap(tile: int, overlap: int, prefix: str = "") -> None:
    """The one rule for prediction tiles: a positive multiple of 32 px, overlapping by at
    least 0 and less than half a tile (so a tile's two blending ramps never meet).

    Raises :class:`~geoseg.errors.ParameterError` naming the parameter (``tile``,
    ``overlap``; `prefix` qualifies it, e.g. ``predict.`` for a config key).
    """
    if tile <= 0 or tile % STRIDE:
        raise ParameterError(
            f"{prefix}tile must be a positive multiple of {STRIDE}, got {tile}", f"{prefix}tile"
        )
    if not 0 <= overlap < tile // 2:
        raise ParameterError(
            f"{prefix}overlap must be at least 0 and less than half the tile "
            f"({tile // 2}), got {overlap}",
            f"{prefix}overlap",
        )


def tile_starts(size: int, tile: int, overlap: int = 0) -> list[int]:
    """Start offsets along one axis: stride ``tile - overlap``, last one shifted inward
    (one start at 0 when `size` ≤ `tile`)."""
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return starts


def row_spans(height: int, step: int, start: int = 0) -> list[tuple[int, int]]:
    """Consecutive row ranges ``[top, bottom)`` of `step` rows from `start` to `height`
    (the last one shorter): the bands a scene is read or scanned in."""
    step = max(1, int(step))
    return [(top, min(top + step, height)) for top in range(max(0, start), height, step)]


def tile_windows(height: int, width: int, tile: int, overlap: int = 0) -> list[Window]:
    """Tiles covering every pixel of a ``height``×``width`` grid, row-major, each inside
    the grid: ``tile`` px, clipped to an axis shorter than a tile."""
    h, w = min(tile, height), min(tile, width)
    cols = tile_starts(width, w, overlap)
    return [Window(c, r, w, h) for r in tile_starts(height, h, overlap) for c in cols]


def grow(window: Window, by: int, height: int, width: int) -> Window:
    """`window` grown by `by` px on every side, clipped to a ``height``×``width`` grid."""
    r0, c0 = max(0, window.row_off - by), max(0, window.col_off - by)
    r1 = min(height, window.row_off + window.height + by)
    c1 = min(width, window.col_off + window.width + by)
    return Window(c0, r0, c1 - c0, r1 - r0)


def slices(window: Window) -> tuple[slice, slice]:
    """(rows, cols) slices of an integer window (no rounding, unlike ``toslices``)."""
    r, c = int(window.row_off), int(window.col_off)
    return slice(r, r + int(window.height)), slice(c, c + int(window.width))


def local(inner: Window, outer: Window) -> tuple[slice, slice]:
    """(rows, cols) slices of `inner` in an array read over `outer`."""
    r, c = int(inner.row_off - outer.row_off), int(inner.col_off - outer.col_off)
    return slice(r, r + int(inner.height)), slice(c, c + int(inner.width))


@dataclass(frozen=True)
class HaloBlock:
    """One block: its `core` and the `halo` window read around it (core grown, clipped)."""

    core: Window
    halo: Window
    # halo sides that stop inside the grid (not at its edge): top, bottom, left, right
    inside: tuple[bool, bool, bool, bool]

    @property
    def core_in_halo(self) -> tuple[slice, slice]:
        """The core's pixels in an array read over the halo window."""
        return local(self.core, self.halo)


def halo_blocks(height: int, width: int, block: int, halo: int = 0) -> Iterator[HaloBlock]:
    """Blocks covering a ``height``×``width`` grid row by row: the cores partition it
    (every pixel in exactly one core), each halo is its core grown by `halo` px and
    clipped at the grid's edges."""
    if block <= 0:
        raise ConfigError(f"block size must be positive, got {block}")
    if halo < 0:
        raise ConfigError(f"halo must be at least 0, got {halo}")
    for r in range(0, height, block):
        for c in range(0, width, block):
            core = Window(c, r, min(block, width - c), min(block, height - r))
            grown = grow(core, halo, height, width)
            inside = (
                grown.row_off > 0,
                grown.row_off + grown.height < height,
                grown.col_off > 0,
                grown.col_off + grown.width < width,
            )
            yield HaloBlock(core, grown, inside)


def blend_ramp(tile: int, overlap: int, floor: float = WEIGHT_FLOOR) -> np.ndarray:
    """1-D weights: a squared-sine ramp over the ``overlap`` px at each end, 1 inside.

    Where two tiles overlap, one fades out as the other fades in, so tile-edge pixels
    (which saw the least context) count least and no seam shows.  The floor keeps weights
    positive where a tile edge is the only cover (scene borders).
    """
    ramp = np.ones(tile, np.float64)
    if overlap > 0:
        x = (np.arange(overlap) + 0.5) / overlap
        rise = np.sin(0.5 * np.pi * x) ** 2
        ramp[:overlap] = rise
        ramp[tile - overlap :] = np.minimum(ramp[tile - overlap :], rise[::-1])
    return np.maximum(ramp, floor).astype(np.float32)


def blend_window(tile: int, overlap: int, floor: float = WEIGHT_FLOOR) -> np.ndarray:
    """2-D ``(tile, tile)`` blending weights: the outer product of :func:`blend_ramp`."""
    ramp = blend_ramp(tile, overlap, floor)
    return np.outer(ramp, ramp)


class TileGrid:
    """Overlapping prediction tiles over a ``height``×``width`` scene.

    ``tile`` and ``overlap`` follow :func:`check_tile_overlap`; ``overlap=None`` is
    :func:`default_overlap` of the tile.  Tiles are :func:`tile_starts` along each axis;
    along an axis shorter than a tile the one tile runs past the border (the reader
    reflect-pads it, the stitcher crops it).
    """

    def __init__(
        self, height: int, width: int, tile: int = DEFAULT_TILE, overlap: int | None = None
    ) -> None:
        self.height, self.width, self.tile = int(height), int(width), int(tile)
        self.overlap = default_overlap(self.tile) if overlap is None else int(overlap)
        check_tile_overlap(self.tile, self.overlap)
        if self.height <= 0 or self.width <= 0:
            raise ConfigError(f"scene size must be positive, got {self.height}×{self.width}")

    def __repr__(self) -> str:
        return f"TileGrid({self.height}, {self.width}, tile={self.tile}, overlap={self.overlap})"

    @cached_property
    def row_starts(self) -> list[int]:
        return tile_starts(self.height, self.tile, self.overlap)

    @cached_property
    def col_starts(self) -> list[int]:
        return tile_starts(self.width, self.tile, self.overlap)

    def __len__(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """``(row_off, col_off)`` in row-major order (the order the stitcher needs)."""
        for r in self.row_starts:
            for c in self.col_starts:
                yield r, c

    def windows(self) -> Iterator[Window]:
        """The tiles as windows, row-major (``tile``×``tile``; past the border only along
        an axis shorter than a tile)."""
        for r, c in self:
            yield Window(c, r, self.tile, self.tile)

    @property
    def band_height(self) -> int:
        """Rows a stitcher must hold: one tile (clipped to the scene)."""
        return min(self.tile, self.height)

    def weights(self) -> np.ndarray:
        return blend_window(self.tile, self.overlap)
