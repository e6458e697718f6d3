"""The prediction pipeline of one scene: read once ▸ batch ▸ predict ▸ stitch ▸ write.

Threads, each stage overlapping the others:

- reader workers (:class:`~geoseg.inference.bands.RowBands`) read block-aligned row
  chunks, each pixel once, with their own dataset handles;
- a batch thread cuts tiles from the row bands and normalises them, a few batches ahead;
- the calling thread submits batches to the :class:`~geoseg.inference.predictor.TilePredictor`
  (on CUDA up to ``depth`` batches in flight on their own streams) and blends each result
  into the :class:`~geoseg.inference.stitch.Stitcher`;
- the sink (:class:`~geoseg.inference.outputs.OutputSink`) converts and writes the rows.

The stitcher blends in grid order whatever order results come back in, so the outputs do
not depend on the number of threads or on timing.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator

from geoseg.errors import ConfigError
from geoseg.inference.bands import Batch, RowBands, fast_normalizer, tile_batches
from geoseg.inference.profile import StageTimes
from geoseg.inference.stitch import Stitcher
from geoseg.io.raster import Scene
from geoseg.io.windows import TileGrid
from geoseg.normalize import Normalizer


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. under taskset or a
    container's cpuset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None) -> int:
    """I/O threads to use: `threads`, or every available core for None / 0."""

    if threads is None or threads == 0:
        return available_cores()
    if threads < 0:
        raise ConfigError(f"threads must be at least 1 (or 0 for all cores), got {threads}")
    return int(threads)


def next_completed(in_flight: list) -> int:
    """Which in-flight batch to collect next: the oldest (results come back in order on
    one device).  Tests replace it to check that any order gives the same outputs."""
    return 0


def prefetch(items: Iterator, depth: int) -> Generator:
    """Run `items` in a background thread, at most `depth` items ahead; its errors are
    re-raised here, and closing this generator stops the thread."""
    done = object()
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    break
            else:
                put(done)
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=run, name="geoseg-batches", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def normalize_on_device(normalizer: Callable, dtype: str, device) -> bool:
    """Whether tiles go to the device raw and are normalised there: uint8 scenes with a
    :class:`~geoseg.normalize.Normalizer` on CUDA (a quarter of the bytes to copy, and
    the GPU's elementwise work is nearly free).  On the CPU the batch thread normalises
    by table lookup instead, in parallel with the network (measured: torch's broadcast
    and layout-changing copies there cost more CPU than the lookup)."""

    return (
        getattr(device, "type", None) == "cuda"
        and isinstance(normalizer, Normalizer)
        and str(dtype) == "uint8"
    )


def scene_batches(
    scene: Scene,
    grid: TileGrid,
    batch_size: int,
    normalizer: Callable,
    threads: int = 1,
    times: StageTimes | None = None,
    prefetch_depth: int = 2,
    raw: bool = False,
) -> Generator[Batch, None, None]:
    """Tile batches of `scene` in grid order, each pixel read once by `threads` reader
    workers, prepared in a background thread: normalised float32, or with `raw` the
    tiles in the scene's dtype."""
    times = times or StageTimes()
    bands = RowBands(scene, grid, workers=threads, gdal_threads=1, times=times)
    normalize = None if raw else fast_normalizer(normalizer, scene.dtype)
    batches = tile_batches(bands, batch_size, normalize, len(scene.bands), times)
    return prefetch(batches, prefetch_depth)


def run_scene(
    scene: Scene,
    grid: TileGrid,
    predictor,
    normalizer: Callable,
    sink,
    batch_size: int,
    threads: int = 1,
    times: StageTimes | None = None,
    on_tiles: Callable[[int], None] | None = None,
) -> None:
    """Predict every tile of `grid` over `scene` and stream the stitched rows to `sink`.

    `on_tiles(n)` is called as each batch of n tiles is blended (progress).
    """
    times = times or StageTimes()
    stitcher = Stitcher(grid, sink)
    in_flight: list = []

    def collect() -> None:
        batch, handle = in_flight.pop(next_completed(in_flight))
        probs = predictor.result(handle)
        with times.stage("blend"):
            for (r, c), p, v in zip(batch.offsets, probs, batch.valid):
                stitcher.add(p, v, r, c)
        if on_tiles is not None:
            on_tiles(len(batch.offsets))

    raw = normalize_on_device(normalizer, scene.dtype, getattr(predictor, "device", None))
    on_device = normalizer if raw else None
    batches = scene_batches(scene, grid, batch_size, normalizer, threads, times, raw=raw)
    with contextlib.closing(batches):  # on an error, stop the reader threads now
        for batch in batches:
            if len(in_flight) >= predictor.depth:
                collect()
            in_flight.append((batch, predictor.submit(batch.images, on_device)))
        while in_flight:
            collect()
    with times.stage("blend"):
        stitcher.close()
