"""Writes that fail on a (nearly) full disk say so in one sentence naming the output:
"<path>: cannot write (no space left on device)", whatever words the library failing
chose (sqlite, torch's zip writer, GDAL), and leave nothing behind.

The disks are real: a small tmpfs (skipped where this process may not mount one)."""

from __future__ import annotations

import os

import fake_models
import numpy as np
import pytest
from helpers import fill_up, run_cli, small_disk, write_geotiff

from geoseg.checkpoint import load_checkpoint
from geoseg.errors import OutputError
from geoseg.io import files
from geoseg.io.files import atomic_output

NO_SPACE = "cannot write (no space left on device)"


def test_an_empty_road_layer_onto_a_full_disk(tmp_path):
    mask = write_geotiff(tmp_path / "empty_mask.tif", np.zeros((64, 64), np.uint8))
    with small_disk(tmp_path / "full", "300k") as disk:
        fill_up(disk / "filler", leave=60 * 1024)
        res = run_cli("vectorize", mask, "-o", disk / "roads.gpkg")
        assert res.exit_code == 1
        assert res.output.strip() == f"Error: {disk / 'roads.gpkg'}: {NO_SPACE}"
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_a_checkpoint_onto_a_full_disk(tmp_path):
    ckpt = load_checkpoint(fake_models.save_tiny_checkpoint(tmp_path / "model.pt"))
    size = (tmp_path / "model.pt").stat().st_size
    with small_disk(tmp_path / "full", "2m") as disk:
        fill_up(disk / "filler", leave=size // 2)  # torch's zip writer fails with no errno
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
