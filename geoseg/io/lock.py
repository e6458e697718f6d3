"""Exclusive locks on output folders: one geoseg run writes a folder at a time.

A run that writes a whole folder (``geoseg batch``) holds ``<folder>/.geoseg.lock`` for
its duration: an advisory ``flock`` (released by the kernel when the holder dies, so a
lock left by a killed run is simply taken over) plus the holder's pid, host, command
and start time, which a second run quotes when it refuses to start.  Under torchrun the
job's rank 0 holds the lock for all ranks.

A run that writes named files (``predict``, ``vectorize``, ``export``, ``models
import``, ``train``'s checkpoint) holds an :class:`OutputLock` per output instead:
``.<name>.geoseg.lock`` beside the file, removed again when the run ends, so two runs
writing different files into one folder go on side by side while a second run writing
the same file is refused before it starts (:func:`hold_outputs`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from geoseg.errors import OutputError
from geoseg.io.files import HOST, ensure_writable_dir

log = logging.getLogger(__name__)

LOCK_NAME = ".geoseg.lock"


class FolderLock:
    """``with FolderLock(folder, "batch"):`` — OutputError if another run holds it."""

    def __init__(self, folder: str | Path, command: str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.command = command
        self._fd: int | None = None

    def holder(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self) -> FolderLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot create lock file ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            info = self.holder()
            since = info.get("since")
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
            raise OutputError(
                f"{self.folder}: in use by another geoseg {info.get('command', 'run')} "
                f"(pid {info.get('pid', '?')} on {info.get('host', '?')}, since {when}); "
                "wait for it to finish or choose another output folder"
            ) from None
        previous = self.holder()
        if previous.get("pid"):
            log.info(
                "%s: taking over the lock left by %s pid %s on %s",
                self.folder,
                previous.get("command", "a run"),
                previous["pid"],
                previous.get("host"),
            )
        record = {"pid": os.getpid(), "host": HOST, "command": self.command, "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)  # no holder now (the file stays: unlinking races)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class OutputLock:
    """``with OutputLock(path, "predict"):`` — OutputError if another run writes `path`.

    The lock file is removed on release (before the lock is let go); a run that locked
    a file removed meanwhile sees that its inode is no longer the path's and tries again,
    so two runs never both hold one output."""

    def __init__(self, path: str | Path, command: str) -> None:
        self.target = Path(path)
        self.path = self.target.with_name(f".{self.target.name}.geoseg.lock")
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> OutputLock:
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(
                    f"{self.target}: cannot create its lock file {self.path.name} ({exc.strerror})"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutputError(
                    f"{self.target}: another geoseg run is writing this output "
                    f"({_holder_text(_read_holder(self.path))}); wait for it to finish or "
                    "choose another output path"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                _write_holder(fd, self.command)
                self._fd = fd
                return self
            os.close(fd)  # removed by the run that just finished: lock the new file
        raise OutputError(f"{self.target}: cannot lock this output (its lock file keeps changing)")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                self.path.unlink()
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def hold_outputs(paths: Iterable[str | Path], command: str) -> Iterator[None]:
    """Hold an :class:`OutputLock` on every path (folders created as needed) for the
    block; OutputError naming the first one another geoseg run is writing.  Folders it
    created for the lock files are removed again if the run left them empty (a refused
    or failed run leaves no empty output folder behind)."""
    unique = sorted({os.path.realpath(os.fspath(p)): Path(p) for p in paths}.items())
    created: list[Path] = []
    try:
        with contextlib.ExitStack() as stack:
            for _, path in unique:
                folder = path.parent if str(path.parent) else Path(".")
                missing = [f for f in (folder, *folder.parents) if not f.exists()]
                ensure_writable_dir(folder)
                created.extend(missing)  # deepest first
                stack.enter_context(OutputLock(path, command))
            yield
    finally:
        for folder in created:
            with contextlib.suppress(OSError):  # not empty (the outputs), or gone
                folder.rmdir()


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _holder_text(info: dict[str, Any]) -> str:
    since = info.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
    return (
        f"geoseg {info.get('command', 'run')}, pid {info.get('pid', '?')} on "
        f"{info.get('host', '?')}, since {when}"
    )


def _write_holder(fd: int, command: str) -> None:
    record = {"pid": os.getpid(), "host": HOST, "command": command, "since": time.time()}
    os.ftruncate(fd, 0)
    with contextlib.suppress(OSError):  # a full disk: the lock holds, unnamed (the write fails)
        os.pwrite(fd, json.dumps(record).encode(), 0)
