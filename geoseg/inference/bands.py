"""Read each scene pixel once: parallel block-aligned row reads, tiles cut from memory.

Overlapping tiles share pixels (about 1.3× the scene at tile 512, overlap 64), and
reading every tile's window from the file reads and decompresses those pixels again.
:class:`RowBands` instead reads the scene in full-width chunks of rows aligned to the
file's internal blocks (every block is decompressed once), with several reader threads,
each with its own dataset handle (GDAL releases the GIL), a bounded number of chunks
ahead.  It hands out, top to bottom, the band of rows each tile row of a
:class:`~geoseg.io.windows.TileGrid` covers; :func:`tile_batches` cuts the tiles
from those bands (reflect-padding past the scene border exactly as
:func:`geoseg.io.raster.read_window` does) and normalises them into batches.

Memory: the chunks in flight plus one band of ``tile`` rows × width, whatever the height.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import rasterio

from geoseg.inference.profile import StageTimes
from geoseg.io.raster import Scene, gdal_env, read_pixels
from geoseg.io.windows import TileGrid, Window, row_spans
from geoseg.normalize import Normalizer

MIN_CHUNK_ROWS = 64  # striped files (1-row blocks) are still read in sizeable requests


@dataclass
class Batch:
    """Tiles in grid order: offsets, normalised images (B,C,t,t) and validity (B,t,t)."""

    offsets: list[tuple[int, int]]
    images: np.ndarray
    valid: np.ndarray


@dataclass
class _Chunk:
    top: int
    image: np.ndarray  # (C, rows, width), scene dtype
    valid: np.ndarray  # (rows, width) bool

    @property
    def bottom(self) -> int:
        return self.top + self.image.shape[1]


def chunk_rows(block_height: int, tile: int) -> int:
    """Rows per read: a multiple of the file's block height near half a tile (so reads
    run ahead of the tile rows in several pieces), at least :data:`MIN_CHUNK_ROWS`."""
    want = max(MIN_CHUNK_ROWS, tile // 2)
    block_height = max(1, block_height)
    return block_height * max(1, -(-want // block_height))


class RowBands:
    """Full-width row bands of a scene for each tile row, each pixel read once.

    Iterate to get ``(row_off, image (C, h, width), valid (h, width))`` for every tile row
    start of `grid`, top to bottom (``h = min(tile, height - row_off)``).  `workers`
    threads read chunks ahead; their GDAL reads decode on `gdal_threads` cores.  A read
    error is raised from the iteration as a :class:`RasterReadError` naming the rows.
    """

    def __init__(
        self,
        scene: Scene,
        grid: TileGrid,
        workers: int = 2,
        gdal_threads: int | None = 1,
        times: StageTimes | None = None,
    ) -> None:
        self.scene = scene
        self.grid = grid
        self.workers = max(1, int(workers))
        self.gdal_threads = gdal_threads
        self.times = times or StageTimes()
        self._local = threading.local()
        self._handles: list = []
        self._lock = threading.Lock()

    def _block_height(self) -> int:

        with rasterio.open(self.scene.path) as src:
            return src.block_shapes[0][0]

    def _dataset(self):
        """This thread's own dataset handle (opened on first use, closed at the end)."""
        src = getattr(self._local, "src", None)
        if src is None:
            src = rasterio.open(self.scene.path)
            self._local.src = src
            with self._lock:
                self._handles.append(src)
        return src

    def _read(self, top: int, bottom: int) -> _Chunk:
        scene = self.scene
        with self.times.stage("read"), gdal_env(threads=self.gdal_threads):
            src = self._dataset()
            win = Window(0, top, scene.width, bottom - top)
            image, valid = read_pixels(src, scene, win, f"rows {top}-{bottom}")
        return _Chunk(top, image, valid)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        height, tile = self.grid.height, self.grid.tile
        step = chunk_rows(self._block_height(), tile)
        first = self.grid.row_starts[0] // step * step if self.grid.row_starts else height
        spans = row_spans(height, step, first)
        ahead = self.workers + 1 + -(-tile // step)  # enough chunks for a band, plus one each
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="geoseg-reader")
        futures: deque[Future] = deque()
        held: deque[_Chunk] = deque()
        queued = 0
        try:
            for row_off in self.grid.row_starts:
                need = min(row_off + tile, height)
                while held and held[0].bottom <= row_off:
                    held.popleft()  # rows no tile needs any more
                while not held or held[-1].bottom < need:
                    while queued < len(spans) and len(futures) < ahead:
                        futures.append(pool.submit(self._read, *spans[queued]))
                        queued += 1
                    held.append(futures.popleft().result())
                yield (row_off, *self._band(held, row_off, need))
        finally:
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True)
            for src in self._handles:
                src.close()
            self._handles.clear()

    @staticmethod
    def _band(held: deque[_Chunk], top: int, bottom: int) -> tuple[np.ndarray, np.ndarray]:
        parts = [
            (c, max(top, c.top) - c.top, min(bottom, c.bottom) - c.top)
            for c in held
            if c.bottom > top and c.top < bottom
        ]
        if len(parts) == 1:
            c, a, b = parts[0]
            return c.image[:, a:b], c.valid[a:b]
        image = np.concatenate([c.image[:, a:b] for c, a, b in parts], axis=1)
        valid = np.concatenate([c.valid[a:b] for c, a, b in parts], axis=0)
        return image, valid


def cut_tile(
    image: np.ndarray, valid: np.ndarray, col_off: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``size``×``size`` tile at `col_off` of a band starting at the tile's row,
    symmetric-padded past the scene's bottom/right border (as :func:`read_window`)."""
    tile = image[:, :size, col_off : col_off + size]
    mask = valid[:size, col_off : col_off + size]
    pad = ((0, size - tile.shape[1]), (0, size - tile.shape[2]))
    if pad[0][1] or pad[1][1]:
        tile = np.pad(tile, ((0, 0), *pad), mode="symmetric")
        mask = np.pad(mask, pad, mode="symmetric")
    return tile, mask


def tile_batches(
    bands: RowBands,
    batch_size: int,
    normalize: Callable[[np.ndarray, np.ndarray], None] | None,
    channels: int,
    times: StageTimes | None = None,
) -> Iterator[Batch]:
    """Batches of tiles in the grid's row-major order, cut from `bands`.

    ``normalize(tile, out)`` writes one normalised (C,t,t) float32 tile into `out`; with
    None the batches hold the raw tiles in the scene's dtype (normalised later, on the
    device: :meth:`~geoseg.inference.predictor.TilePredictor.submit`).
    """
    times = times or StageTimes()
    grid = bands.grid
    size = grid.tile
    offsets: list[tuple[int, int]] = []
    images = valid = None
    for row_off, image, mask in bands:
        for col_off in grid.col_starts:
            with times.stage("prepare"):
                if images is None:
                    dtype = image.dtype if normalize is None else np.float32
                    images = np.empty((batch_size, channels, size, size), dtype)
                    valid = np.empty((batch_size, size, size), bool)
                assert images is not None and valid is not None  # allocated above
                t, v = cut_tile(image, mask, col_off, size)
                if normalize is None:
                    images[len(offsets)] = t
                else:
                    normalize(t, images[len(offsets)])
                valid[len(offsets)] = v
                offsets.append((row_off, col_off))
            if len(offsets) == batch_size:
                yield Batch(offsets, images, valid)
                offsets, images, valid = [], None, None
    if offsets:
        assert images is not None and valid is not None
        n = len(offsets)
        yield Batch(offsets, images[:n], valid[:n])


def fast_normalizer(
    normalizer: Callable[[np.ndarray], np.ndarray], dtype: str
) -> Callable[[np.ndarray, np.ndarray], None]:
    """``normalize(tile, out)``: `normalizer` applied to one (C,t,t) tile, into `out`.

    For 8- and 16-bit integer scenes a :class:`~geoseg.normalize.Normalizer` (per pixel and
    per band) is tabulated once per band over every possible value and applied by lookup:
    one gather per pixel instead of six passes, with exactly the values it computes.
    """

    kind, size = np.dtype(dtype).kind, np.dtype(dtype).itemsize
    if isinstance(normalizer, Normalizer) and (
        kind == "u" and size <= 2 or kind == "i" and size == 1
    ):
        info = np.iinfo(np.dtype(dtype))
        lo, hi = int(info.min), int(info.max)
        values = np.arange(lo, hi + 1)
        tables: dict[int, np.ndarray] = {}

        def table(channels: int) -> np.ndarray:
            if channels not in tables:
                column = np.broadcast_to(values, (channels, values.size))[:, :, None]
                tables[channels] = np.ascontiguousarray(
                    normalizer(column.astype(dtype))[:, :, 0], dtype=np.float32
                )
            return tables[channels]

        def lookup(tile: np.ndarray, out: np.ndarray) -> None:
            lut = table(tile.shape[0])
            for c in range(tile.shape[0]):
                index = tile[c] if lo == 0 else tile[c].astype(np.int32) - lo
                np.take(lut[c], index, out=out[c], mode="clip")  # "raise" buffers: 2× slower

        return lookup

    def compute(tile: np.ndarray, out: np.ndarray) -> None:
        out[...] = normalizer(tile)

    return compute
