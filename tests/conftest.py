"""Shared fixtures: tiny seeded rasters with a real CRS and transform, built in code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def realdata() -> Path:
    """../shared/realdata, or skip the test when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present")
    return REALDATA


def write_geotiff(path: Path, array: np.ndarray, crs="EPSG:32633", res=0.5,
                  origin=(500000.0, 4000000.0), nodata=None) -> Path:
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


@pytest.fixture
def geotiff_factory(tmp_path):
    """Call with an array (and optional crs/res/nodata) to get a GeoTIFF path."""
    counter = iter(range(10_000))

    def make(array: np.ndarray, name: str | None = None, **kw) -> Path:
        return write_geotiff(tmp_path / (name or f"r{next(counter)}.tif"), array, **kw)

    return make
