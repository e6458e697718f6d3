"""The mosaic's reprojected mask copies are warped a strip at a time, never read whole."""

import numpy as np
import rasterio
import rasterio.vrt
from rasterio.transform import from_origin
from rasterio.warp import Resampling, calculate_default_transform, reproject

import geoseg.batch.mosaic as mosaic


def test_warped_copy_equals_a_whole_array_warp_reading_strips(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2, (100, 90)).astype(np.uint8)
    valid = rng.random((100, 90)) > 0.2
    path = tmp_path / "m.tif"
    profile = {
        "driver": "GTiff",
        "width": 90,
        "height": 100,
        "count": 1,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": from_origin(500000, 4000100, 1.0, 1.0),
        "tiled": True,
        "blockxsize": 32,
        "blockysize": 32,
    }
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
        dst.write_mask(np.where(valid, 255, 0).astype(np.uint8))

    reads = []

    class Recording(rasterio.vrt.WarpedVRT):
        def read(self, *args, **kwargs):
            reads.append(kwargs["window"].height)
            return super().read(*args, **kwargs)

    monkeypatch.setattr(mosaic, "WarpedVRT", Recording)
    monkeypatch.setattr(mosaic, "STRIP", 16)
    crs = rasterio.crs.CRS.from_epsg(32634)
    out = mosaic.warped_copy(path, crs)

    # the reference: what the mosaic did before, with both whole arrays in memory
    with rasterio.open(path) as src:
        tr, w, h = calculate_default_transform(src.crs, crs, 90, 100, *src.bounds)
    want = np.full((h, w), 255, np.uint8)
    reproject(
        np.where(valid, values, 255).astype(np.uint8),
        want,
        src_transform=profile["transform"],
        src_crs="EPSG:32633",
        src_nodata=255,
        dst_transform=tr,
        dst_crs=crs,
        dst_nodata=255,
        resampling=Resampling.nearest,
    )
    with rasterio.open(out) as src:
        assert (src.crs, src.transform, src.shape, src.nodata) == (crs, tr, (h, w), 255)
        got = src.read(1)
    np.testing.assert_array_equal(got, want)
    assert (got == 255).any() and (got == 1).any() and (got == 0).any()
    assert max(reads) <= 16 and sum(reads) == h  # strips of rows, each once
