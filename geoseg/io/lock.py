"""Exclusive locks on output folders: one geoseg run writes a folder at a time.

A run that writes a whole folder (``geoseg batch``) holds ``<folder>/.geoseg.lock`` for
its duration: an advisory ``flock`` (released by the kernel when the holder dies, so a
lock left by a killed run is simply taken over) plus the holder's pid, host, command
and start time, which a second run quotes when it refuses to start.  Under torchrun the
job's rank 0 holds the lock for all ranks.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from geoseg.errors import OutputError
from geoseg.io.files import HOST

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
