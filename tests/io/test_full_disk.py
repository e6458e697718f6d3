"""Writes that fail on a (nearly) full disk say so in one sentence naming the output:
"<path>: cannot write (no space left on device)", whatever words the library failing
chose (sqlite, torch's zip writer, GDAL), and leave nothing behind.

The disks are real: a small tmpfs (skipped where this process may not mount one)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import fake_models
import numpy as np
import pytest
from helpers import run_cli, write_geotiff

from geoseg.checkpoint import load_checkpoint
from geoseg.errors import OutputError
from geoseg.io import files
from geoseg.io.files import atomic_output

NO_SPACE = "cannot write (no space left on device)"


@contextlib.contextmanager
def small_disk(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill_up(disk: Path, leave: int) -> None:
    """Fill the file system of `disk` to the last byte, then free `leave` bytes."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096):
                pass
    finally:
        os.close(fd)
    os.truncate(filler, max(filler.stat().st_size - leave, 0))


def test_an_empty_road_layer_onto_a_full_disk(tmp_path):
    mask = write_geotiff(tmp_path / "empty_mask.tif", np.zeros((64, 64), np.uint8))
    with small_disk(tmp_path / "full", "300k") as disk:
        fill_up(disk, leave=60 * 1024)
        res = run_cli("vectorize", mask, "-o", disk / "roads.gpkg")
        assert res.exit_code == 1
        assert res.output.strip() == f"Error: {disk / 'roads.gpkg'}: {NO_SPACE}"
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_a_checkpoint_onto_a_full_disk(tmp_path):
    ckpt = load_checkpoint(fake_models.save_tiny_checkpoint(tmp_path / "model.pt"))
    size = (tmp_path / "model.pt").stat().st_size
    with small_disk(tmp_path / "full", "2m") as disk:
        fill_up(disk, leave=size // 2)  # torch's zip writer fails with no errno
        with pytest.raises(OutputError) as err:
            ckpt.save(disk / "imp.pt")
        assert str(err.value) == f"{disk / 'imp.pt'}: {NO_SPACE}"
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_any_library_failure_on_a_nearly_full_disk_is_put_down_to_it(tmp_path, monkeypatch):
    out = tmp_path / "out.bin"
    with pytest.raises(RuntimeError, match="unexpected pos"):  # disk with room: not hidden
        with atomic_output(out) as tmp:
            tmp.write_bytes(b"x")
            raise RuntimeError("unexpected pos 8822592 vs 8822488")
    free = {"bytes": 90 * 1024}

    def statvfs(path):
        return os.statvfs_result((4096, 4096, 256, 0, free["bytes"] // 4096, 0, 0, 0, 0, 255))

    monkeypatch.setattr(files.os, "statvfs", statvfs)
    with pytest.raises(OutputError) as err:
        with atomic_output(out) as tmp:
            tmp.write_bytes(b"x")
            raise RuntimeError("TIFFWriteDirectoryTagData:IO error writing tag data")
    assert str(err.value) == f"{out}: {NO_SPACE}"
    assert list(tmp_path.iterdir()) == []
