import logging

import numpy as np
import pytest
import rasterio

from geoseg.errors import BandMismatchError, RasterReadError
from geoseg.io.raster import (
    RowWriter,
    build_overviews,
    gdal_env,
    open_scene,
    output_profile,
    parse_bands,
    read_window,
)


def rgb(h=40, w=60, dtype=np.uint8, seed=0):
    hi = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1
    return np.random.default_rng(seed).integers(1, hi, (3, h, w)).astype(dtype)


def test_open_scene_describes_the_raster(geotiff_factory):
    path = geotiff_factory(rgb(dtype=np.uint16), crs="EPSG:32633", res=2.0, nodata=0)
    scene = open_scene(path, bands="3,1")
    assert scene.shape == (40, 60) and scene.count == 3 and scene.bands == (3, 1)
    assert scene.dtype == "uint16" and scene.nodata == 0 and scene.has_mask
    assert scene.crs.to_epsg() == 32633 and scene.transform.a == 2.0
    assert open_scene(geotiff_factory(rgb())).has_mask is False


def test_bad_files_give_one_line_errors(tmp_path, geotiff_factory):
    text = tmp_path / "notes.tif"
    text.write_text("this is not a raster\n")
    empty = tmp_path / "empty.tif"
    empty.touch()
    good = geotiff_factory(rgb(200, 200))
    truncated = tmp_path / "cut.tif"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases = {
        tmp_path / "missing.tif": "not found",
        text: "not a raster",
        empty: "empty",
        truncated: "truncated or corrupt",
        tmp_path: "folder",
    }
    for path, words in cases.items():
        with pytest.raises(RasterReadError, match=words) as err:
            open_scene(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_band_selection_is_validated(geotiff_factory):
    path = geotiff_factory(rgb())
    with pytest.raises(BandMismatchError, match="band 4 does not exist"):
        open_scene(path, bands=[1, 4])
    with pytest.raises(BandMismatchError):
        parse_bands("1,x")
    assert parse_bands(" 1, 2 ") == (1, 2) and parse_bands(None) is None


def test_missing_crs_warns_and_continues(geotiff_factory, caplog):
    with caplog.at_level(logging.WARNING):
        scene = open_scene(geotiff_factory(rgb(), crs=None))
    assert scene.crs is None and "no CRS" in caplog.text


def test_read_window_pads_by_reflection_and_masks_nodata(geotiff_factory):
    data = rgb(20, 30)
    data[:, :, :5] = 0  # nodata collar on the left
    scene = open_scene(geotiff_factory(data, nodata=0), bands=[2, 3])
    with rasterio.open(scene.path) as src:
        image, valid = read_window(src, scene, 0, 0, 32)
        inner, inner_valid = read_window(src, scene, 4, 6, 8)
    assert image.shape == (2, 32, 32) and valid.shape == (32, 32)
    np.testing.assert_array_equal(image[:, :20, :30], data[1:])
    np.testing.assert_array_equal(image[:, 20:, :30], data[1:, ::-1][:, :12])  # mirrored
    np.testing.assert_array_equal(valid[:20, :30], (data != 0).any(0))
    np.testing.assert_array_equal(inner, data[1:, 4:12, 6:14])
    assert inner_valid.all()


def test_internal_mask_and_nan_count_as_invalid(tmp_path, geotiff_factory):
    data = rgb(16, 16)
    path = tmp_path / "masked.tif"
    profile = dict(
        driver="GTiff",
        width=16,
        height=16,
        count=3,
        dtype="uint8",
        crs="EPSG:3857",
        transform=rasterio.transform.from_origin(0, 16, 1, 1),
    )
    with gdal_env(), rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        mask = np.full((16, 16), 255, np.uint8)
        mask[:4] = 0
        dst.write_mask(mask)
    scene = open_scene(path)
    assert scene.has_mask
    with rasterio.open(path) as src:
        _, valid = read_window(src, scene, 0, 0, 16)
    assert not valid[:4].any() and valid[4:].all()

    floats = rgb(8, 8).astype(np.float32) / 255
    floats[0, 2, 3] = np.nan
    fscene = open_scene(geotiff_factory(floats))
    with rasterio.open(fscene.path) as src:
        image, valid = read_window(src, fscene, 0, 0, 8)
    assert not valid[2, 3] and valid.sum() == 63 and np.isfinite(image).all()


def test_row_writer_writes_whole_block_rows(tmp_path, geotiff_factory):
    scene = open_scene(geotiff_factory(rgb(600, 300), crs="EPSG:4326", nodata=0))
    profile = output_profile(scene, "uint8")
    assert (
        profile["tiled"] and profile["compress"] == "deflate" and profile["bigtiff"] == "IF_SAFER"
    )
    expected = np.random.default_rng(1).integers(0, 255, (600, 300)).astype(np.uint8)
    valid = expected > 20
    path = tmp_path / "out.tif"
    writes = []

    class Recording:  # the dataset, recording each window written
        def __init__(self, dst):
            self.dst, self.height, self.width = dst, dst.height, dst.width

        def write(self, array, index, window):
            writes.append(window)
            self.dst.write(array, index, window=window)

        def write_mask(self, mask, window):
            self.dst.write_mask(mask, window=window)

    with gdal_env(), rasterio.open(path, "w", **profile) as dst:
        writer = RowWriter(Recording(dst), masked=True)
        for top in range(0, 600, 70):  # bands of 70 rows, not aligned with the 256-row blocks
            writer.write(expected[top : top + 70], valid[top : top + 70])
        writer.close()
    assert [w.row_off for w in writes] == [0, 256, 512]
    build_overviews(path, "nearest")
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 4326 and src.block_shapes == [(256, 256)]
        np.testing.assert_array_equal(src.read(1), expected)
        np.testing.assert_array_equal(src.read_masks(1) > 0, valid)
        assert src.overviews(1) == [2, 4, 8]
