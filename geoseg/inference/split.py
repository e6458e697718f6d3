"""One scene over the ranks of a torchrun job: row bands computed apart, one output.

Under ``torchrun``, ``geoseg predict`` (:func:`scene_split`) splits the scene's rows in
near-equal bands, one per rank (:func:`~geoseg.inference.rowrange.split_rows`).  Each
rank runs the same tile grid restricted to its rows
(:class:`~geoseg.inference.rowrange.RowRange`: the tiles that touch them, the whole
grid's blending weights) on its own device, so its rows are the same bits as in a
single-process run.

- Rank 0 streams its own rows straight into the outputs (the usual
  :class:`~geoseg.inference.outputs.OutputSink`: conversion, compression, COG).
- Every other rank writes its stitched rows (float32 probabilities and validity) to a
  temporary part beside the outputs (``.<name>_rows<rank>.partial-….npy``; the output
  folder must be shared by the ranks, as a batch's OUTDIR), then waits.
- Once all ranks are done, rank 0 appends the parts, in row order, to the same sink: the
  outputs are one GeoTIFF (or COG) per product, the same bytes a single process
  writes.  Then every rank removes its part.

A failure on any rank is reported by every rank and no output is kept.  The network
and the reads run on all ranks in parallel; converting and compressing the whole
scene is rank 0's (with all its cores).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoseg.distributed import DistContext, distributed, rank_device
from geoseg.errors import GeoSegError
from geoseg.inference.pipeline import run_scene
from geoseg.inference.profile import StageTimes
from geoseg.inference.rowrange import RowRange, split_rows
from geoseg.io.files import temp_name
from geoseg.io.raster import Scene
from geoseg.io.windows import TileGrid, row_spans

log = logging.getLogger(__name__)

PART_ROWS = 256  # rows per read when rank 0 appends a part


class RankFailed(GeoSegError):
    """Another rank of the job could not predict its rows."""


class PartWriter:
    """A row sink into two ``.npy`` files (float32 values, bool validity) of
    `rows`×`width`, filled top to bottom."""

    def __init__(self, path: Path, rows: int, width: int) -> None:
        self.paths = (path, path.with_name(path.stem + "-valid.npy"))
        self.values = np.lib.format.open_memmap(
            self.paths[0], mode="w+", dtype=np.float32, shape=(rows, width)
        )
        self.valid = np.lib.format.open_memmap(
            self.paths[1], mode="w+", dtype=np.bool_, shape=(rows, width)
        )
        self.top = 0

    def __call__(self, values: np.ndarray, valid: np.ndarray) -> None:
        n = values.shape[0]
        self.values[self.top : self.top + n] = values
        self.valid[self.top : self.top + n] = valid
        self.top += n

    def close(self) -> None:
        if self.top != self.values.shape[0]:
            raise RuntimeError(f"part has {self.top} of {self.values.shape[0]} rows")
        for array in (self.values, self.valid):
            array.flush()

    def remove(self) -> None:
        del self.values, self.valid
        for p in self.paths:
            p.unlink(missing_ok=True)


def append_part(path: str, sink: Callable[[np.ndarray, np.ndarray], None]) -> int:
    """Feed a part written by :class:`PartWriter` to `sink` in row order; its rows."""
    values = np.load(path, mmap_mode="r")
    valid = np.load(Path(path).with_name(Path(path).stem + "-valid.npy"), mmap_mode="r")
    for top, bottom in row_spans(values.shape[0], PART_ROWS):
        sink(np.array(values[top:bottom]), np.array(valid[top:bottom]))
    return int(values.shape[0])


def _reason(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text or exc.__class__.__name__


@dataclass
class SceneSplit:
    """This process's share of one scene in a torchrun job (see the module)."""

    ctx: DistContext

    @property
    def rank(self) -> int:
        return int(self.ctx.rank)

    @property
    def assembles(self) -> bool:
        """Whether this rank writes the outputs (rank 0)."""
        return self.rank == 0

    def device(self, device: str) -> str:
        """This rank's device: its own GPU (cuda:LOCAL_RANK) when CUDA is used."""
        return str(rank_device(device, self.ctx.local_rank))

    def rows_of(self, grid: TileGrid) -> RowRange:
        start, stop = split_rows(grid.height, self.ctx.world_size, self.rank)
        return RowRange.of(grid, start, stop)

    def predict_part(
        self,
        scene: Scene,
        grid: RowRange,
        predictor: Any,
        normalizer: Callable,
        folder: Path,
        batch_size: int,
        threads: int = 1,
        times: StageTimes | None = None,
    ) -> None:
        """Ranks other than 0: this rank's rows into a part beside the outputs, handed
        to rank 0; returns when rank 0 has assembled the outputs."""
        part = temp_name(folder / f"{scene.name}_rows{self.rank}.npy")
        writer, error = None, None
        try:
            writer = PartWriter(part, grid.end - grid.start, grid.width)
            run_scene(scene, grid, predictor, normalizer, writer, batch_size, threads, times)
            writer.close()
        except Exception as exc:  # noqa: BLE001 - reported to every rank, raised below
            log.debug("rank %d: rows %d-%d failed", self.rank, grid.start, grid.end, exc_info=True)
            error = exc
        try:
            self.ctx.all_gather({"part": str(part), "error": _reason(error)})
            assembled = self.ctx.all_gather(None)[0]  # rank 0: None, or why it failed
        finally:
            if writer is not None:
                writer.remove()
        if error is not None:
            raise error
        if assembled is not None:
            raise RankFailed(assembled)

    def run_scene(
        self,
        scene: Scene,
        grid: RowRange,
        predictor: Any,
        normalizer: Callable,
        sink: Callable[[np.ndarray, np.ndarray], None],
        batch_size: int,
        threads: int = 1,
        times: StageTimes | None = None,
        on_tiles: Callable[[int], None] | None = None,
    ) -> None:
        """Rank 0: its own rows into `sink`, then every other rank's part, in order."""
        error: BaseException | None = None
        try:
            run_scene(
                scene, grid, predictor, normalizer, sink, batch_size, threads, times, on_tiles
            )
        except Exception as exc:  # noqa: BLE001 - the other ranks must hear of it
            error = exc
        reports = self.ctx.all_gather({"part": None, "error": _reason(error)})
        try:
            if error is not None:
                raise error
            for rank, report in enumerate(reports[1:], 1):
                if report["error"] is not None:
                    raise RankFailed(f"{scene.path}: rank {rank} failed: {report['error']}")
            times = times or StageTimes()
            for report in reports[1:]:
                with times.stage("assemble"):
                    append_part(report["part"], sink)
        except Exception as exc:
            self.ctx.all_gather(f"rank 0 could not write the outputs: {_reason(exc)}")
            raise
        self.ctx.all_gather(None)


@contextlib.contextmanager
def scene_split(device: str = "auto") -> Iterator[SceneSplit | None]:
    """Under torchrun (WORLD_SIZE > 1): the job's process group and this rank's
    :class:`SceneSplit`; else None (one process predicts the whole scene)."""
    with distributed(device) as ctx:
        yield SceneSplit(ctx) if ctx.active else None
