"""CRS coordinates and true lengths (projected and geographic)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod
from rasterio.transform import from_origin
from vectorize_scenes import draw_roads

from geoseg.vectorize import vectorize_mask

VEGAS = from_origin(-115.2338, 36.1423, 2.7e-6, 2.7e-6)  # SpaceNet Las Vegas grid


def test_length_in_utm_is_planar_metres():
    mask = draw_roads((200, 200), [[(20, 30), (180, 170)]], 7)
    roads = vectorize_mask(
        mask, transform=from_origin(400000, 5000000, 0.3, 0.3), crs="EPSG:32611", progress=False
    )
    assert len(roads) == 1
    assert roads.length_m.iloc[0] == pytest.approx(roads.geometry.length.iloc[0], rel=1e-9)
    # the skeleton of a diagonal road stops about a half width short of each end
    assert roads.length_m.iloc[0] == pytest.approx(np.hypot(160, 140) * 0.3, rel=0.06)


def test_length_in_epsg4326_is_geodesic():
    mask = draw_roads((300, 300), [[(20, 40), (280, 260)]], 9)
    roads = vectorize_mask(mask, transform=VEGAS, crs="EPSG:4326", progress=False)
    assert len(roads) == 1 and roads.crs.to_epsg() == 4326
    line = roads.geometry.iloc[0]
    geodesic = Geod(ellps="WGS84").geometry_length(line)
    assert roads.length_m.iloc[0] == pytest.approx(geodesic, rel=1e-6)
    # ~0.243 m per column and ~0.300 m per row at 36° N: anisotropy matters
    dx = 260 * 2.7e-6 * 111320 * np.cos(np.radians(36.1423))
    dy = 220 * 2.7e-6 * 110950
    assert roads.length_m.iloc[0] == pytest.approx(np.hypot(dx, dy), rel=0.06)
    assert roads.width_m.iloc[0] == pytest.approx(9 * 0.27, rel=0.15)


def test_geographic_defaults_follow_pixel_size_in_metres():
    from rasterio.crs import CRS

    from geoseg.vectorize.params import VectorizeParams, pixel_size_m

    pixel = pixel_size_m(VEGAS, CRS.from_epsg(4326), (1300, 1300))
    assert pixel.y == pytest.approx(0.2997, rel=1e-3)
    assert pixel.x == pytest.approx(0.2430, rel=1e-3)
    params = VectorizeParams.resolve(pixel)
    assert params.simplify_m == pytest.approx(pixel.mean) and params.prune_m == 10.0
    feet = pixel_size_m(from_origin(0, 0, 2, 2), CRS.from_epsg(2263), (10, 10))  # US feet
    assert feet.x == pytest.approx(2 * 0.3048006, rel=1e-6)


def test_coordinates_are_pixel_centres_through_the_transform():
    mask = np.zeros((50, 80), np.uint8)
    mask[20, 5:75] = 1  # one-pixel road on row 20
    t = from_origin(300000, 6000000, 10, 10)
    roads = vectorize_mask(mask, transform=t, crs="EPSG:32632", min_area_m2=0, progress=False)
    xy = shapely.get_coordinates(roads.geometry.values)
    np.testing.assert_allclose(xy[:, 1], 6000000 - 205)
    assert xy[:, 0].min() == pytest.approx(300000 + 55)
    assert xy[:, 0].max() == pytest.approx(300000 + 745)
