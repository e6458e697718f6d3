"""File-system helpers: atomic outputs and writable-folder checks.

Every output geoseg writes goes to a temporary name in the destination folder and is
renamed into place only when complete, so an interrupted run never leaves a file that
looks finished.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from geoseg.errors import OutputError


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


def temp_name(path: Path) -> Path:
    """A hidden sibling of `path` with the same suffix (GDAL picks drivers by suffix)."""
    return path.with_name(f".{path.stem}.partial-{uuid.uuid4().hex[:8]}{path.suffix}")


@contextlib.contextmanager
def atomic_output(path: str | Path, sidecars: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to `path` when the block succeeds.

    `sidecars` lists extra suffixes written beside the file (``.prj``, ``.dbf`` for a
    shapefile; ``.ovr``); they are renamed along with it.  On any error the temporary
    files are removed and `path` is left untouched.
    """
    path = Path(path)
    ensure_writable_dir(path.parent if str(path.parent) else Path("."))
    tmp = temp_name(path)

    def companions(base: Path) -> list[tuple[Path, Path]]:
        pairs = [(base, path)]
        for suffix in sidecars:
            pairs.append((base.with_suffix(suffix), path.with_suffix(suffix)))
        return pairs

    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(f"{path}: nothing was written")
        for src, dst in companions(tmp):
            if src.exists():
                if dst.is_dir():
                    shutil.rmtree(dst)
                os.replace(src, dst)
    except BaseException:
        for src, _ in companions(tmp):
            with contextlib.suppress(OSError):
                if src.is_dir():
                    shutil.rmtree(src)
                else:
                    src.unlink()
        raise
