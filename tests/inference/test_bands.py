"""Read-once row bands: tiles cut from memory equal windowed reads, each pixel read once."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geoseg.errors import RasterReadError
from geoseg.inference.bands import RowBands, chunk_rows, fast_normalizer
from geoseg.inference.pipeline import scene_batches
from geoseg.io.raster import open_scene, read_window
from geoseg.io.windows import TileGrid
from geoseg.normalize import Normalizer


def tiled(path, data, block=16, nodata=None, mask=None):
    profile = dict(
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype.name,
        crs="EPSG:32633",
        nodata=nodata,
        transform=from_origin(500000, 4000000, 0.5, 0.5),
    )
    if block:
        profile.update(tiled=True, blockxsize=block, blockysize=block)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if mask is not None:
            dst.write_mask(np.where(mask, 255, 0).astype(np.uint8))
    return path


def windowed(scene, grid):
    """What the old reader produced: one windowed read per tile."""
    with rasterio.open(scene.path) as src:
        return {(r, c): read_window(src, scene, r, c, grid.tile) for r, c in grid}


@pytest.mark.parametrize(
    "shape,tile,overlap,block,workers",
    [
        ((70, 50), 32, 8, 16, 3),  # tiled file, last row/column shifted inward
        ((20, 100), 32, 4, 16, 2),  # shorter than a tile: reflect-padded rows
        ((90, 13), 32, 10, 0, 4),  # striped file, narrower than a tile
        ((200, 64), 64, 16, 32, 1),  # several chunks per tile row, one worker
    ],
)
def test_tiles_equal_windowed_reads(tmp_path, shape, tile, overlap, block, workers):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 60000, (3, *shape)).astype(np.uint16)
    valid = rng.random(shape) > 0.1
    scene = open_scene(tiled(tmp_path / "s.tif", data, block, mask=valid))
    grid = TileGrid(*shape, tile, overlap)
    want = windowed(scene, grid)
    got = {}
    for b in scene_batches(scene, grid, 3, lambda a: a.astype(np.float32), threads=workers):
        for o, img, v in zip(b.offsets, b.images, b.valid):
            got[o] = (img, v)
    assert list(got) == list(grid)  # grid order
    for o, (img, v) in got.items():
        np.testing.assert_array_equal(img, want[o][0].astype(np.float32))
        np.testing.assert_array_equal(v, want[o][1])


def test_nan_pixels_of_float_scenes_are_invalid_and_zero(tmp_path):
    data = np.random.default_rng(1).random((2, 40, 40)).astype(np.float32)
    data[1, 5, 7] = np.nan
    scene = open_scene(tiled(tmp_path / "f.tif", data))
    grid = TileGrid(40, 40, 32, 8)
    want = windowed(scene, grid)
    for b in scene_batches(scene, grid, 4, lambda a: a.astype(np.float32), threads=2):
        for o, img, v in zip(b.offsets, b.images, b.valid):
            np.testing.assert_array_equal(img, want[o][0])
            np.testing.assert_array_equal(v, want[o][1])
    assert not want[(0, 0)][1][5, 7] and want[(0, 0)][0][1, 5, 7] == 0


def test_every_pixel_is_read_once_in_block_aligned_chunks(tmp_path, monkeypatch):
    data = np.zeros((1, 300, 40), np.uint8)
    scene = open_scene(tiled(tmp_path / "s.tif", data, block=16))
    grid = TileGrid(300, 40, 64, 16)  # 1.33× the rows if tiles were read one by one
    spans = []
    read = RowBands._read

    def recording(self, top, bottom):
        spans.append((top, bottom))
        return read(self, top, bottom)

    monkeypatch.setattr(RowBands, "_read", recording)
    bands = list(RowBands(scene, grid, workers=3))
    assert [r for r, _, _ in bands] == grid.row_starts
    assert all(img.shape == (1, min(64, 300 - r), 40) for r, img, _ in bands)
    spans.sort()
    assert spans[0][0] == 0 and spans[-1][1] == 300
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # no row twice, no gap
    assert all(top % 16 == 0 for top, _ in spans)
    assert chunk_rows(16, 64) == 64 and chunk_rows(1, 512) == 256 and chunk_rows(100, 64) == 100


def test_read_errors_name_the_file_and_stop_the_workers(tmp_path, monkeypatch):
    scene = open_scene(tiled(tmp_path / "s.tif", np.zeros((1, 200, 40), np.uint8)))

    def broken(self, top, bottom):
        if top >= 64:
            raise RasterReadError(f"{scene.path}: cannot read pixels at rows {top}-{bottom}")
        return read(self, top, bottom)

    read = RowBands._read
    monkeypatch.setattr(RowBands, "_read", broken)
    with pytest.raises(RasterReadError, match="s.tif: cannot read pixels at rows 64"):
        list(
            scene_batches(
                scene, TileGrid(200, 40, 32, 0), 2, lambda a: a.astype(np.float32), threads=2
            )
        )


def test_normaliser_errors_reach_the_caller(tmp_path):
    scene = open_scene(tiled(tmp_path / "s.tif", np.zeros((1, 40, 40), np.uint8)))

    def broken(_):
        raise RasterReadError("x.tif: cannot read pixels")

    with pytest.raises(RasterReadError):
        list(scene_batches(scene, TileGrid(40, 40, 32, 0), 2, broken))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int8", "int16", "float32"])
def test_lookup_normaliser_is_exact(dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    rng = np.random.default_rng(2)
    if info is None:
        tile = rng.random((3, 16, 16)).astype(dtype)
    else:
        tile = rng.integers(info.min, int(info.max) + 1, (3, 16, 16)).astype(dtype)
    norm = Normalizer.for_dtype(dtype, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    out = np.empty((3, 16, 16), np.float32)
    fast_normalizer(norm, dtype)(tile, out)
    np.testing.assert_array_equal(out, norm(tile))  # the same bits, not just close
