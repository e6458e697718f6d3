"""Test helpers importable from any test module (`from helpers import ...`).

Kept out of conftest.py: tests/batch has a conftest.py too, and a plain
``from conftest import`` would depend on which of the two pytest loaded first.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
REPO = Path(__file__).resolve().parents[1]


def run_cli(*args):
    """`geoseg ARGS...` in-process (click's CliRunner); arguments may be paths or numbers."""
    from click.testing import CliRunner

    from geoseg.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def write_geotiff(
    path: Path,
    array: np.ndarray,
    crs="EPSG:32633",
    res=0.5,
    origin=(500000.0, 4000000.0),
    nodata=None,
) -> Path:
    """Write (bands, rows, cols) or (rows, cols) `array` as a tiled GeoTIFF."""
    import rasterio
    from rasterio.transform import from_origin

    if array.ndim == 2:
        array = array[None]
    profile = {
        "driver": "GTiff",
        "width": array.shape[2],
        "height": array.shape[1],
        "count": array.shape[0],
        "dtype": array.dtype.name,
        "crs": crs,
        "transform": from_origin(origin[0], origin[1], res, res),
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
    return path


def easy_road_scene(size: int = 256, seed: int = 0, road_px: int = 6):
    """(image (3,H,W) uint8, mask (H,W) uint8): grey straight roads on textured ground."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(3):
        for axis in (0, 1):
            at = int(rng.integers(road_px, size - road_px))
            sl = slice(at - road_px // 2, at + road_px // 2)
            if axis == 0:
                mask[sl, :] = 1
            else:
                mask[:, sl] = 1
    ground = np.stack([rng.normal(m, 18, (size, size)) for m in (70, 110, 60)])
    road = np.stack([rng.normal(m, 10, (size, size)) for m in (190, 185, 180)])
    image = np.where(mask[None] == 1, road, ground)
    return np.clip(image, 0, 255).astype(np.uint8), mask


@contextlib.contextmanager
def small_disk(path: Path, size: str):
    """A size-limited tmpfs mounted at `path` for the block (skips where mounting is not
    permitted), unmounted after."""
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


def fill_up(path: Path, leave: int) -> None:
    """Fill the file system under `path` (a new file) to the last byte, then free `leave`
    bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096):
                pass
    finally:
        os.close(fd)
    os.truncate(path, max(path.stat().st_size - leave, 0))
