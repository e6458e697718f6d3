"""The tile grid over a scene and the blending window used to stitch tiles seamlessly.

Tiles of ``tile`` px step by ``tile - overlap``; the last row and column of tiles is
shifted inward so every tile lies inside the scene and every pixel is covered.  A scene
smaller than a tile along an axis gets one tile starting at 0 that runs past the border
(the reader reflect-pads it and the stitcher crops it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from geoseg.errors import ConfigError

WEIGHT_FLOOR = 1e-3  # keeps every pixel's total weight > 0, even at a tile's very edge
STRIDE = 32  # encoders downsample by 32: prediction tiles must be a multiple of it


def check_tile_overlap(tile: int, overlap: int, prefix: str = "") -> None:
    """The one rule for prediction tiles: a positive multiple of 32 px, overlapping by at
    least 0 and less than half a tile.  `prefix` names the setting in messages."""
    if tile <= 0 or tile % STRIDE:
        raise ConfigError(f"{prefix}tile must be a positive multiple of {STRIDE}, got {tile}")
    if not 0 <= overlap < tile // 2:
        raise ConfigError(
            f"{prefix}overlap must be at least 0 and less than half the tile "
            f"({tile // 2}), got {overlap}"
        )


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets along one axis: stride ``tile - overlap``, last one shifted inward."""
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return starts


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


@dataclass(frozen=True)
class TileGrid:
    """Overlapping ``tile``×``tile`` windows covering a ``height``×``width`` scene."""

    height: int
    width: int
    tile: int
    overlap: int

    def __post_init__(self) -> None:
        if self.tile <= 0:
            raise ConfigError(f"tile must be positive, got {self.tile}")
        if not 0 <= self.overlap < self.tile:
            raise ConfigError(
                f"overlap must be at least 0 and smaller than the tile ({self.tile}), "
                f"got {self.overlap}"
            )
        if self.height <= 0 or self.width <= 0:
            raise ConfigError(f"scene size must be positive, got {self.height}×{self.width}")

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

    @property
    def band_height(self) -> int:
        """Rows a stitcher must hold: one tile (clipped to the scene)."""
        return min(self.tile, self.height)

    def weights(self) -> np.ndarray:
        return blend_window(self.tile, self.overlap)
