"""Progress reporting: terminal bars, or a machine-readable JSON-lines stream.

Every long loop in geoseg makes its progress bar with :func:`tqdm` from this module (a
drop-in for ``tqdm.auto.tqdm``).  What the bars do depends on the mode the command line
chose with ``--progress`` (:data:`geoseg.cli.options.progress_opt`):

``bar`` (default)
    the usual tqdm bars on stderr (only on a terminal unless a caller forces them).
``none``
    no bars at all.
``json``
    no bars; instead one JSON object per line on stderr, for programs that run geoseg
    (the QGIS plugin, schedulers)::

        {"progress": 0.42, "message": "holdout: 8/20 tiles, 0.31 MP/s"}
        {"level": "info", "message": "using checkpoint runs/linknet.pt"}

    ``progress`` is the completed fraction of the whole command (0 to 1, never
    decreasing): nested bars (scoring blocks inside a list of pairs) refine their parent's
    current step, and a command made of stages (predict, then vectorize) maps each stage
    onto its share with :func:`phase`.  geoseg's log records become ``level`` /
    ``message`` objects.  A line that is not JSON is plain text from elsewhere: the final
    ``Error: ...`` line of a failed command, or another library's warning.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any, TextIO

from tqdm.auto import tqdm as auto_tqdm
from tqdm.std import tqdm as std_tqdm

MODES = ("bar", "json", "none")
MIN_INTERVAL_S = 0.1  # at most ~10 progress lines a second


class _Reporter:
    """The process-wide progress state (one command runs per process)."""

    def __init__(self) -> None:
        self.mode = "bar"
        self.stream: TextIO | None = None
        self.lock = threading.RLock()
        self.span = (0.0, 1.0)  # the part of the command that bars fill now (phase())
        self.bars: list[Any] = []  # open JSON bars, outermost first
        self.last_fraction = 0.0
        self.last_time = 0.0
        self.last_obj: dict[str, Any] | None = None

    def reset(self, mode: str, stream: TextIO | None) -> None:
        with self.lock:
            self.mode, self.stream = mode, stream
            self.span, self.bars = (0.0, 1.0), []
            self.last_fraction, self.last_time = 0.0, 0.0
            self.last_obj = None

    def write(self, obj: dict[str, Any]) -> None:
        with self.lock:
            stream = self.stream or sys.stderr
            stream.write(json.dumps(obj, ensure_ascii=False) + "\n")
            stream.flush()

    def fraction(self) -> float:
        """The command's completed fraction from the phase and the stack of open bars."""
        start, width = self.span[0], self.span[1] - self.span[0]
        for bar in self.bars:
            total = bar.total
            if not total:
                break
            n = min(max(float(bar.n), 0.0), float(total))
            start += width * n / total
            width *= min(1.0, total - n) / total  # the step being worked on
        return min(max(start, self.last_fraction), 1.0)

    def report(self, message: str | None, force: bool = False) -> None:
        with self.lock:
            now = time.monotonic()
            fraction = self.fraction()
            if not force and now - self.last_time < MIN_INTERVAL_S and fraction < 1.0:
                return
            obj: dict[str, Any] = {"progress": round(fraction, 4)}
            if message:
                obj["message"] = message
            if obj == self.last_obj:
                return
            self.last_time, self.last_fraction, self.last_obj = now, fraction, obj
            self.write(obj)


_REPORTER = _Reporter()


def set_mode(mode: str, stream: TextIO | None = None) -> None:
    """Choose ``bar``, ``json`` or ``none`` for this process (`stream`: default stderr).

    In ``json`` mode geoseg's log records are written to the stream as JSON too.
    """
    if mode not in MODES:
        raise ValueError(f"progress mode must be one of {', '.join(MODES)}, not {mode!r}")
    _REPORTER.reset(mode, stream)
    if mode == "json":
        handler = _JsonLogHandler()
        root = logging.getLogger("geoseg")
        root.handlers[:] = [handler]


def mode() -> str:
    return _REPORTER.mode


def phase(start: float, end: float, message: str | None = None) -> None:
    """Bars opened from now on fill the fraction `start`..`end` of the command."""
    if not 0.0 <= start <= end <= 1.0:
        raise ValueError(f"phase must lie within 0..1, got {start}..{end}")
    with _REPORTER.lock:
        _REPORTER.span = (start, end)
        if _REPORTER.mode == "json":
            _REPORTER.report(message, force=True)


def report(message: str | None = None) -> None:
    """Emit the current progress with `message` (JSON mode only; otherwise nothing)."""
    if _REPORTER.mode == "json":
        _REPORTER.report(message, force=True)


def tqdm(*args: Any, **kwargs: Any):
    """A progress bar: ``tqdm.auto.tqdm`` in ``bar`` mode, silent in ``none`` mode and a
    JSON reporter in ``json`` mode (a bar created with ``disable=True`` stays silent)."""
    if _REPORTER.mode == "bar":
        return auto_tqdm(*args, **kwargs)
    if _REPORTER.mode == "none" or kwargs.get("disable") is True:
        return auto_tqdm(*args, **{**kwargs, "disable": True})
    return _json_bar_class()(*args, **kwargs)


class _NullFile:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


_JSON_BAR = None


def _json_bar_class():
    """tqdm subclass that reports through the JSON stream instead of drawing (built on
    first use so that importing this module does not import tqdm)."""
    global _JSON_BAR
    if _JSON_BAR is not None:
        return _JSON_BAR

    class JsonBar(std_tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # every update reaches display(); the reporter's MIN_INTERVAL_S throttles lines
            kwargs.update(disable=False, file=_NullFile(), position=None, mininterval=0, miniters=1)
            self._geoseg_open = False
            super().__init__(*args, **kwargs)
            with _REPORTER.lock:
                _REPORTER.bars.append(self)
                self._geoseg_open = True
            _REPORTER.report(self._geoseg_message(), force=True)

        def _geoseg_message(self) -> str:
            d = self.format_dict
            desc = (d.get("prefix") or "").strip()
            n, total, unit = d.get("n", 0), d.get("total"), d.get("unit") or "it"

            def num(x: float) -> str:
                return (
                    f"{x:.2f}"
                    if isinstance(x, float) and not float(x).is_integer()
                    else str(int(x))
                )

            text = f"{num(n)}/{num(total)} {unit}" if total else f"{num(n)} {unit}"
            if desc:
                text = f"{desc}: {text}"
            postfix = d.get("postfix")
            return f"{text}, {postfix}" if postfix else text

        def display(self, msg: Any = None, pos: Any = None) -> bool:
            if getattr(self, "_geoseg_open", False):
                _REPORTER.report(self._geoseg_message())
            return True

        def close(self) -> None:
            if getattr(self, "_geoseg_open", False):
                with _REPORTER.lock:
                    _REPORTER.report(self._geoseg_message(), force=True)
                    if self in _REPORTER.bars:
                        _REPORTER.bars.remove(self)
                    self._geoseg_open = False
            super().close()

    _JSON_BAR = JsonBar
    return JsonBar


class _JsonLogHandler(logging.Handler):
    """geoseg log records as ``{"level": ..., "message": ...}`` lines."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _REPORTER.write({"level": record.levelname.lower(), "message": self.format(record)})
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)
