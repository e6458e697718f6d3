"""Where prediction time goes: busy seconds per pipeline stage, summed over threads.

Stages: ``read`` (GDAL reads and decoding), ``prepare`` (cutting tiles, normalising),
``h2d`` / ``compute`` / ``d2h`` (host-to-device copy, network, device-to-host copy; on
CUDA timed with events on the device), ``blend`` (stitching), ``convert`` (clip,
threshold, quantise), ``write`` (GDAL writes, which include the compression) and
``finish`` (closing the files, overviews, COG layout).  Stages run in parallel threads,
so their sum can exceed the wall time.  Besides the busy (wall) seconds, :attr:`cpu`
holds the CPU seconds of the calling thread in each stage: on a shared machine busy
time includes waiting for a core, CPU time does not (work handed to other threads —
GDAL's multithreaded compression, torch's intra-op threads — is not in it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

STAGES = ("read", "prepare", "h2d", "compute", "d2h", "blend", "convert", "write", "finish")


class StageTimes:
    """Thread-safe accumulator of seconds per stage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def add(self, stage: str, seconds: float, cpu: float | None = None) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
            if cpu is not None:
                self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start, time.thread_time() - cpu)

    def cpu_dict(self) -> dict[str, float]:
        """CPU seconds per stage, in the order of :meth:`as_dict`."""
        with self._lock:
            return {k: self.cpu.get(k, 0.0) for k in self.seconds_order()}

    def seconds_order(self) -> list[str]:
        return [*STAGES, *sorted(set(self.seconds) - set(STAGES))]

    def as_dict(self) -> dict[str, float]:
        """Seconds per stage in pipeline order (stages that never ran are 0)."""
        with self._lock:
            extra = sorted(set(self.seconds) - set(STAGES))
            return {k: self.seconds.get(k, 0.0) for k in (*STAGES, *extra)}
