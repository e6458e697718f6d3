"""Where training and validation windows come from.

:class:`RoadWeightedWindows` draws random ``tile``-px windows from big scenes: with
probability ``road_weight`` the window is centred near a block that contains roads
(from each source's coarse ``road_density`` map), otherwise anywhere.  Roads cover a
few percent of a typical scene, so uniform windows would mostly teach "background".
Draws are a pure function of ``(seed, epoch, index)``: every DataLoader worker and
every DDP rank agrees, and a resumed run sees the same windows it would have seen.

:func:`grid_windows` covers a source with non-overlapping tiles (the last row and
column shifted inward: :func:`geoseg.io.windows.tile_windows`) for deterministic
validation.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from geoseg.data.sources import Source
from geoseg.io.windows import Window, tile_windows


def _clamp(centre: float, size: int, extent: int) -> int:
    return int(min(max(round(centre - size / 2), 0), max(extent - size, 0)))


def window_size(source: Source, tile: int) -> tuple[int, int]:
    """The tile, clipped to sources smaller than it (the dataset pads those)."""
    return min(tile, source.height), min(tile, source.width)


def grid_windows(source: Source, tile: int) -> list[Window]:
    """Tiles covering every pixel of `source`; the last ones are shifted inside
    (:func:`geoseg.io.windows.tile_windows` without overlap)."""
    return tile_windows(source.height, source.width, tile)


class RoadWeightedWindows:
    """Deterministic random windows over several sources, biased toward roads."""

    def __init__(
        self,
        sources: Sequence[Source],
        tile: int,
        road_weight: float = 0.8,
        seed: int = 0,
        cell: Optional[int] = None,
    ) -> None:
        self.sources = list(sources)
        self.tile, self.road_weight, self.seed = tile, float(road_weight), seed
        self.cell = cell or max(8, tile // 4)
        areas = np.array([s.height * s.width for s in self.sources], dtype="float64")
        self.source_p = areas / areas.sum()
        self.road_cells = [self._road_cells(s) for s in self.sources]

    def _road_cells(self, source: Source) -> Optional[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Pixel centres of blocks with roads and their draw probabilities."""
        if self.road_weight <= 0:
            return None
        density = source.road_density(self.cell)
        if density is None or not np.any(density > 0):
            return None
        iy, ix = np.nonzero(density > 0)
        ny, nx = density.shape
        cy = (iy + 0.5) * source.height / ny
        cx = (ix + 0.5) * source.width / nx
        p = np.sqrt(density[iy, ix]).astype("float64")  # favour dense blocks, but not only
        return cy, cx, p / p.sum()

    def rng(self, epoch: int, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch, index])

    def draw(self, epoch: int, index: int) -> tuple[int, Window]:
        """(source index, window) for sample `index` of `epoch`."""
        rng = self.rng(epoch, index)
        k = int(rng.choice(len(self.sources), p=self.source_p))
        return k, self.window_in(k, rng)

    def window_in(self, k: int, rng: np.random.Generator) -> Window:
        source = self.sources[k]
        h, w = window_size(source, self.tile)
        roads = self.road_cells[k]
        if roads is not None and rng.random() < self.road_weight:
            cy, cx, p = roads
            j = int(rng.choice(len(p), p=p))
            jitter = rng.uniform(-0.5, 0.5, size=2) * self.cell
            r = _clamp(cy[j] + jitter[0], h, source.height)
            c = _clamp(cx[j] + jitter[1], w, source.width)
            return Window(c, r, w, h)
        r = int(rng.integers(0, source.height - h + 1))
        c = int(rng.integers(0, source.width - w + 1))
        return Window(c, r, w, h)
