"""The batch manifest: one small JSON record per scene under ``OUTDIR/manifest/``.

One file per scene (not one shared file or database) because several ranks, possibly
on several machines sharing OUTDIR, update scenes at the same time: each scene belongs
to exactly one rank, so no record is ever written by two processes and no locking is
needed.  Every record is written to a temporary name and renamed (atomic on POSIX), so a
killed process leaves either the old record or the new one, never half of one.

A scene's states: ``running`` (started, maybe killed) -> ``done`` | ``failed``.
A record is *finished* only when it says ``done``, its parameters and source file are
unchanged and all its outputs exist; anything else is redone on the next run.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geoseg.io.files import atomic_output, ensure_writable_dir

RUNNING, DONE, FAILED, SKIPPED = "running", "done", "failed", "skipped"


def fingerprint(path: str | Path) -> dict[str, int] | None:
    """Size and modification time of a source file (None when missing): a changed
    scene is redone even if its record says done."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Manifest:
    """Per-scene state records of one batch output folder."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.dir = self.out_dir / "manifest"

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def get(self, name: str) -> dict[str, Any] | None:
        """The scene's record, or None when it has none (or an unreadable one)."""
        try:
            return json.loads(self.path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def records(self) -> dict[str, dict[str, Any]]:
        """Every record in the folder, by scene name."""
        out = {}
        if self.dir.is_dir():
            for p in sorted(self.dir.glob("*.json")):
                if not p.name.startswith("."):
                    rec = self.get(p.stem)
                    if rec is not None:
                        out[p.stem] = rec
        return out

    def write(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        """Replace the scene's record atomically."""
        ensure_writable_dir(self.dir)
        with atomic_output(self.path(name)) as tmp:
            tmp.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
        return record

    def output_paths(self, record: dict[str, Any]) -> dict[str, Path]:
        """A record's outputs as absolute paths (records store them relative to OUTDIR)."""
        return {k: self.out_dir / v for k, v in (record.get("outputs") or {}).items()}

    def is_finished(
        self,
        name: str,
        source: str,
        params: dict[str, Any],
        same: Callable[[Any], bool] | None = None,
    ) -> bool:
        """Done with the same parameters, the same source file and every output present.
        `same` says whether a record's parameters are `params` when they differ as
        written (:meth:`geoseg.batch.options.RunOptions.same`: the same effective
        options); without it they must be equal."""
        rec = self.get(name)
        if not rec or rec.get("status") != DONE:
            return False
        if rec.get("fingerprint") != fingerprint(source):
            return False
        recorded = rec.get("params")
        if recorded != params and (same is None or not same(recorded)):
            return False
        outs = self.output_paths(rec)
        return bool(outs) and all(p.is_file() for p in outs.values())

    def restate(self, name: str, params: dict[str, Any]) -> None:
        """A finished scene kept by a run with the same effective options: its record
        states them as this run writes them (the next rerun compares them as written)."""
        rec = self.get(name)
        if rec is not None and rec.get("params") != params:
            self.write(name, {**rec, "params": params})

    def start(self, name: str, source: str, params: dict[str, Any], rank: int) -> dict[str, Any]:
        """Mark a scene as running on `rank`; counts attempts across reruns."""
        previous = self.get(name) or {}
        return self.write(
            name,
            {
                "name": name,
                "source": str(source),
                "fingerprint": fingerprint(source),
                "params": params,
                "status": RUNNING,
                "rank": rank,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started": _now(),
                "attempts": int(previous.get("attempts", 0)) + 1,
            },
        )

    def finish(self, record: dict[str, Any], outputs: dict[str, Path], **stats: Any) -> dict:
        """Mark done; only called once every output is complete on disk."""
        rel = {k: os.path.relpath(v, self.out_dir) for k, v in outputs.items()}
        record = {
            **record,
            "status": DONE,
            "outputs": rel,
            "finished": _now(),
            "error": None,
            **stats,
        }
        return self.write(record["name"], record)

    def fail(self, record: dict[str, Any], error: str, **stats: Any) -> dict[str, Any]:
        """Mark failed with a one-line reason; the batch goes on."""
        record = {**record, "status": FAILED, "error": error, "finished": _now(), **stats}
        return self.write(record["name"], record)
