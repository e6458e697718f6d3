"""A range of output rows of a scene's tile grid: the part one process computes.

:class:`RowRange` is the :class:`~geoseg.io.windows.TileGrid` of the whole scene
(same tile starts, same blending weights) restricted to the tile rows that touch output
rows ``[start, stop)``.  Every tile covering a row of the range starts above ``stop``,
so the rows of the range get exactly the contributions, in the same order, that the
whole scene's run gives them: the stitched values are the same bits
(:class:`~geoseg.inference.stitch.Stitcher` emits only the range's rows).  Reading
(:class:`~geoseg.inference.bands.RowBands`) starts at the first block of the first tile
row needed.
"""

from __future__ import annotations

from functools import cached_property

from geoseg.errors import ConfigError
from geoseg.io.windows import DEFAULT_TILE, TileGrid


class RowRange(TileGrid):
    """The tiles of a ``height``×``width`` grid needed for output rows [start, stop)
    (``stop`` -1: to the bottom of the scene)."""

    def __init__(
        self,
        height: int,
        width: int,
        tile: int = DEFAULT_TILE,
        overlap: int | None = None,
        start: int = 0,
        stop: int = -1,
    ) -> None:
        super().__init__(height, width, tile, overlap)
        self.start, self.stop = int(start), int(stop)
        if not 0 <= self.start <= self.end <= self.height:
            raise ConfigError(
                f"row range {self.start}-{self.stop} is not inside the scene's {self.height} rows"
            )

    def __repr__(self) -> str:
        return (
            f"RowRange({self.height}, {self.width}, tile={self.tile}, "
            f"overlap={self.overlap}, rows {self.start}-{self.end})"
        )

    @classmethod
    def of(cls, grid: TileGrid, start: int, stop: int) -> RowRange:
        return cls(grid.height, grid.width, grid.tile, grid.overlap, start, stop)

    @property
    def end(self) -> int:
        """The row after the last one of the range."""
        return self.height if self.stop < 0 else self.stop

    @property
    def whole(self) -> TileGrid:
        """The grid of the whole scene (whose blending weights the range uses)."""
        return TileGrid(self.height, self.width, self.tile, self.overlap)

    @cached_property
    def row_starts(self) -> list[int]:
        """The whole grid's tile rows that cover a row of the range."""
        if self.start >= self.end:
            return []
        return [
            s
            for s in self.whole.row_starts
            if s < self.end and min(s + self.tile, self.height) > self.start
        ]


def split_rows(height: int, parts: int, index: int) -> tuple[int, int]:
    """Rows [start, stop) of part `index` of `parts` near-equal bands of `height` rows."""
    return height * index // parts, height * (index + 1) // parts
