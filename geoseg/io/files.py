"""File-system rules for every output geoseg writes, enforced here and nowhere else.

* **Verified writes.**  An output is written under a temporary sibling name
  (``.<stem>.partial-<host>-<pid>-<random><suffix>``), flushed to disk (``fsync``),
  checked (not empty; a product-specific ``verify`` callback, e.g. "the GeoTIFF opens
  with the expected size and its last block decodes") and only then renamed into place.
  Any failure — a full disk, a file-size limit, an unwritable folder, GDAL reporting an
  error only at close — becomes one :class:`~geoseg.errors.OutputError` sentence naming
  the path and the cause (a failure while the disk holding the output is nearly full is
  put down to it: "no space left on device", whatever the library's words); the
  temporaries are removed and whatever was at the final path before is left as it was.
* **Outputs appear together.**  Inside :func:`output_set`, outputs are staged and renamed
  only when the whole set has been written and verified: a run never leaves a mix of old
  and new files.  Files staged in the set are read back transparently
  (:func:`readable_path`) by later steps of the same run (a preview, a vectorization).
* **Inputs are never outputs.**  Every file a run opens for reading is noted
  (:func:`note_input`); writing to one is refused, even with ``overwrite``.  An existing
  file is replaced only when geoseg wrote it as the same kind of product (its provenance,
  :mod:`geoseg.io.provenance`), or when the caller allows it (:func:`overwrite_allowed`,
  the CLI's ``--overwrite``).
* **Stale temporaries** of dead processes on this host are removed by the next run that
  writes into the same folder; those of live processes (or other hosts) are left alone.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import logging
import os
import re
import shutil
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from geoseg.errors import GeoSegError, OutputError
from geoseg.io.provenance import product_kind

log = logging.getLogger(__name__)

HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"
_PARTIAL = re.compile(r"\.partial-(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)-[0-9a-f]{8}")

Verifier = Callable[[Path], None]
# a write that fails while the disk holding the output has less than this free failed
# for want of space, whatever words the library chose ("Write failed", "unexpected pos")
LOW_SPACE_BYTES = 1 << 20
NO_SPACE = os.strerror(errno.ENOSPC).lower()


# ------------------------------------------------------------------ folders and names


def ensure_writable_dir(path: str | Path) -> Path:
    """Create `path` if needed and check files can be written in it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output folder ({exc.strerror or exc})") from None
    if not path.is_dir():
        raise OutputError(f"{path}: output path exists and is not a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: output folder is not writable")
    return path


def check_output_folder(path: str | Path) -> Path:
    """:func:`ensure_writable_dir`'s checks without creating anything: the nearest
    existing folder of `path` is a folder and writable (what it would create could be)."""
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink() or not str(existing.parent):
            break
        existing = existing.parent
    if not existing.exists():
        existing = Path(".")
    if not existing.is_dir():
        if existing == path:
            raise OutputError(f"{path}: output path exists and is not a folder")
        raise OutputError(f"{path}: cannot create output folder ({existing} is not a folder)")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "output folder" if existing == path else f"output folder ({existing})"
        raise OutputError(f"{path}: {where} is not writable")
    return path


def temp_name(path: Path) -> Path:
    """A hidden sibling of `path` with the same suffix (GDAL picks drivers by suffix),
    carrying this process's host and pid so a later run can tell whether it is stale."""
    return path.with_name(
        f".{path.stem}.partial-{HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}"
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_partials(folder: Path) -> int:
    """Remove temporaries left in `folder` by dead geoseg processes of this host."""
    removed = 0
    try:
        entries = list(folder.iterdir())
    except OSError:
        return 0
    for entry in entries:
        match = _PARTIAL.search(entry.name)
        if not entry.name.startswith(".") or match is None:
            continue
        if match["host"] != HOST or pid_alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
    if removed:
        log.info("%s: removed %d temporary file(s) left by interrupted runs", folder, removed)
    return removed


# ------------------------------------------------------------------ run scope


@dataclass
class _Scope:
    inputs: set[str] = field(default_factory=set)
    overwrite: bool = False
    replacing: set[str] = field(default_factory=set)  # "replacing ..." said once per file


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("geoseg_scope", default=None)


def _key(path: str | Path) -> str:
    return os.path.realpath(os.fspath(path))


@contextlib.contextmanager
def run_scope(overwrite: bool = False) -> Iterator[None]:
    """One command's run: the inputs it reads and whether it may replace files.

    Nested scopes share the outer scope's inputs; `overwrite` only ever widens."""
    outer = _scope.get()
    if outer is not None:
        previous = outer.overwrite
        outer.overwrite = previous or overwrite
        try:
            yield
        finally:
            outer.overwrite = previous
        return
    token = _scope.set(_Scope(overwrite=overwrite))
    try:
        yield
    finally:
        _scope.reset(token)


def overwrite_allowed() -> contextlib.AbstractContextManager[None]:
    """Within this block existing files at output paths may be replaced (never inputs)."""
    return run_scope(overwrite=True)


def allow_overwrite() -> None:
    """Let the current run replace existing files at its output paths (``--overwrite``)."""
    scope = _scope.get()
    if scope is None:
        raise RuntimeError("allow_overwrite() needs an active run_scope()")
    scope.overwrite = True


def note_input(path: str | Path) -> None:
    """Record that the current run reads `path` (it must never become an output)."""
    scope = _scope.get()
    if scope is not None and _staged_temp(Path(path)) is None:
        scope.inputs.add(_key(path))


def is_input(path: str | Path) -> bool:
    scope = _scope.get()
    return scope is not None and _key(path) in scope.inputs


def check_output_path(path: Path, kind: str | None, also: tuple[Path, ...] = ()) -> None:
    """Refuse to write `path` (or its companions `also`) over an input, or over an
    existing file that geoseg did not write as a `kind` product (unless overwriting)."""
    for target in (path, *also):
        if is_input(target):
            raise OutputError(f"{target}: is an input of this command; choose another output path")
    if not path.exists() or kind is None:
        return
    scope = _scope.get()
    if scope is not None and scope.overwrite:
        if _key(path) not in scope.replacing:  # claimed up front, then written: said once
            scope.replacing.add(_key(path))
            log.info("%s: replacing the existing file (overwrite)", path)
        return
    found = product_kind(path)
    if found == kind:
        return
    what = f"geoseg's {found} output" if found else "not written by geoseg"
    article = "an" if kind[0] in "aeiou" else "a"
    raise OutputError(
        f"{path}: already exists and is {what}, not {article} {kind} geoseg may replace; "
        "choose another output path or allow overwriting (--overwrite)"
    )


def claim_outputs(
    outputs: dict[str | Path, str | None], inputs: tuple[str | Path, ...] = ()
) -> None:
    """Check a command's outputs before it does any work: `inputs` (files, or folders
    whose files are inputs) are noted, then each output path is checked as
    :func:`atomic_output` will check it when it is written."""
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            for child in item.iterdir():
                note_input(child)
        else:
            note_input(item)
    for path, kind in outputs.items():
        path = Path(path)
        check_output_folder(path.parent if str(path.parent) else Path("."))
        check_output_path(path, kind)


# ------------------------------------------------------------------ output sets


@dataclass
class _Staged:
    final: Path
    tmp: Path
    sidecars: tuple[str, ...]

    def pairs(self) -> list[tuple[Path, Path]]:
        out = [(self.tmp, self.final)]
        out += [(self.tmp.with_suffix(s), self.final.with_suffix(s)) for s in self.sidecars]
        return out


class OutputSet:
    """Outputs staged by :func:`atomic_output` within :func:`output_set`."""

    def __init__(self) -> None:
        self.items: list[_Staged] = []

    def temp_for(self, path: Path) -> Path | None:
        key = _key(path)
        for item in self.items:
            for tmp, final in item.pairs():
                if _key(final) == key:
                    return tmp
        return None

    def commit(self) -> None:
        for item in self.items:
            _rename_into_place(item)
        self.items.clear()

    def discard(self) -> None:
        for item in self.items:
            _remove_temps(item)
        self.items.clear()


_current_set: contextvars.ContextVar[OutputSet | None] = contextvars.ContextVar(
    "geoseg_output_set", default=None
)


@contextlib.contextmanager
def output_set() -> Iterator[OutputSet]:
    """All outputs written in this block appear together when it completes, or none.

    Nested sets join the outermost one (its completion renames everything)."""
    outer = _current_set.get()
    if outer is not None:
        yield outer
        return
    staged = OutputSet()
    token = _current_set.set(staged)
    try:
        yield staged
    except BaseException:
        staged.discard()
        raise
    else:
        staged.commit()
    finally:
        _current_set.reset(token)


def _staged_temp(path: Path) -> Path | None:
    staged = _current_set.get()
    return staged.temp_for(path) if staged is not None else None


def readable_path(path: str | Path) -> Path:
    """Where to read `path` now: its staged temporary when the current output set holds
    it (written by an earlier step of this run, not yet renamed), else `path` itself."""
    path = Path(path)
    return _staged_temp(path) or path


# ------------------------------------------------------------------ atomic output


def describe_os_error(exc: BaseException) -> str | None:
    """'no space left on device' etc. for errors that mean the output could not be
    written (OSError, or GDAL/OGR errors carrying such a cause), else None."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return (exc.strerror or os.strerror(exc.errno)).lower()
    text = str(exc).lower()
    for code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES):
        reason = os.strerror(code).lower()
        if reason in text:
            return reason
    if isinstance(exc, sqlite3.Error):  # a GeoPackage written through sqlite
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    module = type(exc).__module__ or ""
    if module.startswith(("rasterio", "pyogrio", "fiona")) and any(
        word in text for word in ("write", "writing", "flush", "close", "failed", "could not add")
    ):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(folder)


def _remove_temps(item: _Staged) -> None:
    for tmp, _ in item.pairs():
        with contextlib.suppress(OSError):
            if tmp.is_dir():
                shutil.rmtree(tmp)
            elif tmp.exists():
                tmp.unlink()
        with contextlib.suppress(OSError):  # GDAL's .aux.xml beside a temporary raster
            Path(f"{tmp}.aux.xml").unlink()


def _finish(item: _Staged, verify: Verifier | None) -> None:
    """Flush the temporaries to disk and check them; raise OutputError when not whole.

    GDAL and OGR often only log a failed write (a full disk) and go on: the check of the
    file is what catches it, and a probe write then names the cause."""
    problem = None
    if not item.tmp.exists():
        problem = "nothing was written"
    else:
        for tmp, _ in item.pairs():
            if tmp.exists() and tmp.is_file():
                _fsync(tmp)
        if item.tmp.is_file() and item.tmp.stat().st_size == 0:
            problem = "the file came out empty"
        elif verify is not None:
            try:
                verify(item.tmp)
            except Exception as exc:  # noqa: BLE001 - any failure to read back: not whole
                problem = f"the written file does not read back: {_reason(exc)}"
    if problem is not None:
        cause = _failure_cause(item.final.parent)
        raise OutputError(f"{item.final}: cannot write ({cause or problem})")


def disk_nearly_full(folder: Path) -> bool:
    """Whether the file system holding `folder` has under :data:`LOW_SPACE_BYTES` free."""
    try:
        stat = os.statvfs(folder)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < LOW_SPACE_BYTES


def _failure_cause(folder: Path) -> str | None:
    """Why a write into `folder` just failed: "no space left on device" when its disk is
    (nearly) full — checked before the temporaries are removed — else what a probe
    write reports, else None."""
    if disk_nearly_full(folder):
        return NO_SPACE
    return _probe_write(folder)


def _probe_write(folder: Path, size: int = 1 << 16) -> str | None:
    """Why writing into `folder` fails now ("no space left on device"...), or None."""
    probe = temp_name(folder / "probe")
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return describe_os_error(exc)
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text.split(": ", 1)[1] if text.startswith(("/", ".")) and ": " in text else text


def _rename_into_place(item: _Staged) -> None:
    for tmp, final in item.pairs():
        if tmp.exists():
            if final.is_dir():
                shutil.rmtree(final)
            os.replace(tmp, final)
    with contextlib.suppress(OSError):
        Path(f"{item.tmp}.aux.xml").unlink()
    _fsync_dir(item.final.parent)


@contextlib.contextmanager
def atomic_output(
    path: str | Path,
    sidecars: tuple[str, ...] = (),
    *,
    kind: str | None = None,
    verify: Verifier | None = None,
) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to `path` when the block succeeds.

    `sidecars` lists extra suffixes written beside the file (``.prj``, ``.dbf`` for a
    shapefile); they are renamed along with it.  `kind` names the product (see
    :mod:`geoseg.io.provenance`) for the overwrite rule; `verify` is called with the
    temporary path after it is flushed and must raise when the file is not whole.  Inside
    :func:`output_set` the rename waits for the whole set.  On any error the temporaries
    are removed and `path` is left untouched; write failures become one OutputError.
    """
    path = Path(path)
    folder = ensure_writable_dir(path.parent if str(path.parent) else Path("."))
    clean_stale_partials(folder)
    check_output_path(path, kind, tuple(path.with_suffix(s) for s in sidecars))
    item = _Staged(path, temp_name(path), tuple(sidecars))
    try:
        yield item.tmp
        _finish(item, verify)
        staged = _current_set.get()
        if staged is not None:
            staged.items.append(item)
        else:
            _rename_into_place(item)
    except BaseException as exc:
        full = isinstance(exc, Exception) and not isinstance(exc, GeoSegError)
        full = full and disk_nearly_full(folder)  # before the temporaries free space
        _remove_temps(item)
        if isinstance(exc, GeoSegError):
            raise
        if full:  # any library's failure while the disk is full: the disk is the cause
            raise OutputError(f"{path}: cannot write ({NO_SPACE})") from None
        reason = describe_os_error(exc)
        if reason is not None:
            if not (isinstance(exc, OSError) and exc.errno is not None):
                # a library's own words ("Failed to commit transaction"): name the cause
                reason = _probe_write(folder) or reason
            raise OutputError(f"{path}: cannot write ({reason})") from None
        raise


def write_text_output(
    path: str | Path, text: str, *, kind: str | None = None, verify: Verifier | None = None
) -> Path:
    """Write a text file (report, style, record) atomically and verified: its size on
    disk must equal what was encoded."""
    path = Path(path)
    data = text.encode("utf-8")

    def check(tmp: Path) -> None:
        if tmp.stat().st_size != len(data):
            raise OutputError(f"{path}: wrote {tmp.stat().st_size} of {len(data)} bytes")
        if verify is not None:
            verify(tmp)

    with atomic_output(path, kind=kind, verify=check) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
    return path
