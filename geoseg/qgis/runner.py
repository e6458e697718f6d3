"""Run one geoseg command for a Processing algorithm and relay what it says (stdlib only).

The command is ``<python> -m geoseg ARGS --progress json``, started with an argument list
(no shell).  Its stderr carries JSON lines (:mod:`geoseg.progress`): ``{"progress": f,
"message": m}`` becomes ``feedback.setProgress(100 f)`` / ``setProgressText(m)``, and
``{"level": l, "message": m}`` becomes ``pushInfo`` / ``pushWarning`` / ``reportError``.
Plain lines (the command's summary on stdout) go to ``pushInfo``; click's final
``Error: ...`` line becomes the error of the run.

`feedback` is anything with QgsProcessingFeedback's methods (``isCanceled``,
``setProgress``, ``setProgressText``, ``pushInfo``, ``pushWarning``, ``pushDebugInfo``,
``reportError``).  Cancel ends the process (SIGTERM, which geoseg handles like Ctrl-C by
removing its temporary outputs; SIGKILL after a grace period) and then removes any
temporary sibling of the declared outputs that a killed process may have left.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .environment import Environment, popen_flags

GRACE_S = 10.0  # after SIGTERM, how long geoseg may take to clean up before SIGKILL
POLL_S = 0.1  # how often Cancel is looked at
_EOF = object()


class RunFailed(Exception):
    """The geoseg command failed: the message is geoseg's own one-line error."""


class RunCanceled(Exception):
    """The user cancelled; the process is gone and no partial output is left."""


@dataclass
class RunResult:
    returncode: int
    output: list[str] = field(default_factory=list)  # plain (non-JSON) lines, in order
    error: str | None = None


def partial_files(output: str | Path) -> list[Path]:
    """Temporary siblings geoseg writes before renaming into `output`: its
    ``geoseg.io.files.temp_name`` pattern ``.<stem>.partial-<hex><suffix>`` (and the
    sidecars and styles renamed with it)."""
    path = Path(output)
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f".{path.stem}.partial-*"))


def remove_partials(outputs: Iterable[str | Path]) -> list[Path]:
    removed = []
    for output in outputs:
        for tmp in partial_files(output):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def _push_warning(feedback: Any, text: str) -> None:
    push = getattr(feedback, "pushWarning", None)  # QGIS >= 3.20
    if push is not None:
        push(text)
    else:
        feedback.reportError(text, False)


def relay(line: str, feedback: Any, result: RunResult) -> None:
    """Hand one output line of geoseg to `feedback` (see the module docstring)."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and "progress" in obj:
            try:
                feedback.setProgress(max(0.0, min(100.0, 100.0 * float(obj["progress"]))))
            except (TypeError, ValueError):
                pass
            if obj.get("message"):
                feedback.setProgressText(str(obj["message"]))
            return
        if isinstance(obj, dict) and "level" in obj:
            level, message = str(obj["level"]), str(obj.get("message", ""))
            if level in ("error", "critical"):
                feedback.reportError(message, False)
            elif level == "warning":
                _push_warning(feedback, message)
            elif level == "debug":
                feedback.pushDebugInfo(message)
            else:
                feedback.pushInfo(message)
            return
    if text.startswith("Error: "):
        result.error = text[len("Error: ") :].strip()
        return
    result.output.append(text)
    feedback.pushInfo(text)


def stop(proc: subprocess.Popen, grace_s: float = GRACE_S) -> None:
    """End `proc`: terminate, and kill when it has not exited after `grace_s`."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(
    env: Environment,
    args: Sequence[str],
    feedback: Any,
    outputs: Iterable[str | Path] = (),
    grace_s: float = GRACE_S,
    partial_ok: bool = False,
) -> RunResult:
    """Run ``geoseg ARGS --progress json`` in `env`, relaying to `feedback`.

    Raises RunCanceled when `feedback` is cancelled (nothing of `outputs` is left half
    written) and RunFailed when the command fails.  With `partial_ok`, exit code 1
    without an error line (``geoseg batch``: some scenes failed, the area outputs were
    written) returns normally.
    """
    outputs = list(outputs)
    command = env.command(*[str(a) for a in args], "--progress", "json")
    feedback.pushDebugInfo("geoseg: " + " ".join(command))
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            env=env.child_env(),
            cwd=env.cwd,
            **popen_flags(),
        )
    except OSError as exc:
        raise RunFailed(f"cannot run {env.python} ({exc})") from None
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(_EOF)

    reader = threading.Thread(target=read, name="geoseg-output", daemon=True)
    reader.start()
    result = RunResult(returncode=-1)
    try:
        while True:
            if feedback.isCanceled():
                stop(proc, grace_s)
                reader.join(5)
                remove_partials(outputs)
                raise RunCanceled("cancelled: geoseg was stopped and no partial output was kept")
            try:
                line = lines.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if line is _EOF:
                break
            relay(line, feedback, result)
    except BaseException:
        stop(proc, grace_s)
        raise
    finally:
        reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
    result.returncode = proc.wait()
    if partial_ok and result.returncode == 1 and result.error is None:
        return result
    if result.returncode != 0:
        remove_partials(outputs)
        detail = result.error or (
            "; ".join(result.output[-3:]) if result.output else f"exit code {result.returncode}"
        )
        raise RunFailed(f"geoseg {args[0] if args else ''} failed: {detail}")
    return result
