"""The VRT mosaic of masks: one CRS, nodata never paints over data."""

from __future__ import annotations

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.warp import calculate_default_transform, reproject

from geoseg.batch.mosaic import build_mosaic


def _mask(path, values, valid, origin=None, crs="EPSG:32633", transform=None):
    """A mask written as predict writes it: uint8 with an internal GDAL mask."""
    profile = {
        "driver": "GTiff",
        "width": values.shape[1],
        "height": values.shape[0],
        "count": 1,
        "dtype": "uint8",
        "crs": crs,
        "tiled": True,
        "blockxsize": 32,
        "blockysize": 32,
        "transform": transform or from_origin(*origin, 1.0, 1.0),
    }
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
        dst.write_mask(np.where(valid, 255, 0).astype(np.uint8))
    return path


def test_masked_pixels_of_later_scenes_do_not_hide_earlier_ones(tmp_path):
    a = _mask(
        tmp_path / "a.tif", np.ones((64, 64), np.uint8), np.ones((64, 64), bool), (500000, 4000064)
    )
    valid = np.ones((64, 64), bool)
    valid[:, :32] = False  # b's left half (over a) is nodata
    b = _mask(tmp_path / "b.tif", np.zeros((64, 64), np.uint8), valid, (500032, 4000064))
    vrt = build_mosaic([a, b], CRS.from_epsg(32633), tmp_path / "masks.vrt")
    with rasterio.open(vrt) as src:
        data = src.read(1)
        assert (src.width, src.height) == (96, 64) and src.crs == "EPSG:32633"
        assert src.nodata == 255
    assert (data[:, :64] == 1).all()  # a everywhere, also under b's nodata half
    assert (data[:, 64:] == 0).all()  # b's valid half


def test_masks_in_another_crs_are_warped_into_the_mosaic(tmp_path):
    a = _mask(
        tmp_path / "a.tif", np.ones((64, 64), np.uint8), np.ones((64, 64), bool), (500000, 4000064)
    )
    with rasterio.open(a) as src:
        centre = src.xy(32, 32)
    b = tmp_path / "b.tif"
    with rasterio.open(a) as src:  # b: a warped into the neighbouring UTM zone
        tr, w, h = calculate_default_transform(src.crs, "EPSG:32634", 64, 64, *src.bounds)
        out = np.zeros((h, w), np.uint8)
        reproject(
            src.read(1),
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=tr,
            dst_crs="EPSG:32634",
        )
    _mask(b, out, out > 0, crs="EPSG:32634", transform=tr)
    vrt = build_mosaic([b], CRS.from_epsg(32633), tmp_path / "masks.vrt")
    assert (tmp_path / "b_EPSG32633.tif").is_file()
    with rasterio.open(vrt) as src:
        assert src.crs == "EPSG:32633"
        row, col = src.index(*centre)
        assert src.read(1)[row, col] == 1
