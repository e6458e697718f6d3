"""Vectorization reads a one-band mask once: the road-mask rule is checked on the blocks as
they are read instead of by an upfront scan (#13 follow-up).  Road pixels must be those of
the one road-mask rule whatever the mask holds — 0/1, 0/255, soft, nodata, a geoseg tag
that lies about the values."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely
from scipy import ndimage

import geoseg.io.grid as grid
from geoseg.io.grid import open_mask, road_pixels, settle_rule
from geoseg.io.provenance import product_kind, tags
from geoseg.vectorize import vectorize_mask
from tests.helpers import write_geotiff


def roads(size: int = 96) -> np.ndarray:
    road = np.zeros((size, size), bool)
    road[40:47, 4 : size - 4] = True
    road[6 : size - 6, 60:65] = True
    road[10:14, 10:30] = True  # a short third road
    return road


def antialiased(road: np.ndarray, top: int = 255) -> np.ndarray:
    """A soft mask: `top` inside, 140 on the road's edge (road), 60 just outside (not)."""
    inner = ndimage.binary_erosion(road)
    ring = ndimage.binary_dilation(road) & ~road
    out = np.zeros(road.shape, np.uint8)
    out[road], out[road & ~inner], out[ring] = top, 140, 60
    return out


def masks() -> dict[str, tuple[np.ndarray, float | None, np.ndarray]]:
    """name -> (mask values, nodata, expected road)."""
    road = roads()
    with_nodata = road.astype(np.uint8)
    with_nodata[:, :3] = 200
    nodata_road = road.copy()
    nodata_road[:, :3] = False
    soft_float = np.where(road, 0.9, 0.0).astype(np.float32)
    soft_float[ndimage.binary_dilation(road) & ~road] = 0.3  # below half of 0.9
    soft_float[5, 5] = np.nan  # invalid, never road
    negative = np.where(road, 3, -2).astype(np.int16)
    return {
        "0/1": (road.astype(np.uint8), None, road),
        "0/255": (road.astype(np.uint8) * 255, None, road),
        "soft": (antialiased(road), None, road),
        "nodata": (with_nodata, 200, nodata_road),
        "soft float": (soft_float, None, road),
        "no road": (np.zeros(road.shape, np.uint8), None, np.zeros(road.shape, bool)),
        "negative": (negative, None, road),
    }


def read_in_blocks(reader, size: int = 40, halo: int = 8) -> np.ndarray:
    """Road of a whole mask read as overlapping windows, as vectorization reads it."""
    h, w = reader.shape
    out = np.zeros((h, w), bool)
    for r in range(0, h, size):
        for c in range(0, w, size):
            rows = slice(max(r - halo, 0), min(r + size + halo, h))
            cols = slice(max(c - halo, 0), min(c + size + halo, w))
            out[rows, cols] = road_pixels(reader, rows, cols)
    return out


@pytest.mark.parametrize("name", list(masks()))
def test_unscanned_mask_gives_the_road_of_the_one_rule(tmp_path, name):
    values, nodata, expected = masks()[name]
    path = write_geotiff(tmp_path / "mask.tif", values, nodata=nodata)
    with open_mask(path) as scanned:
        before = read_in_blocks(scanned)
        rule = scanned.rule
    np.testing.assert_array_equal(before, expected)
    with open_mask(path, scan=False) as reader:
        road = read_in_blocks(reader)
        if not settle_rule(reader):
            assert rule.soft  # only a soft mask is read again
            road = read_in_blocks(reader)
        assert reader.rule == rule  # the rule found on the way is the scanned one
        assert settle_rule(reader)  # settled once; nothing more to check
    np.testing.assert_array_equal(road, expected)


def tagged_mask(path, values: np.ndarray):
    """A GeoTIFF carrying geoseg's provenance tag for its 0/1 "mask" product."""
    write_geotiff(path, values)
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(**tags("mask"))
    assert product_kind(path) == "mask"
    return path


def test_tag_is_not_trusted_for_the_values(tmp_path):
    road = roads()
    opts = {"progress": False, "block_size": 64, "halo": 16}  # several blocks
    ref = vectorize_mask(write_geotiff(tmp_path / "01.tif", road.astype(np.uint8)), **opts)
    assert len(ref) >= 3
    # tampered: tagged as geoseg's 0/1 mask but holding 0/255, or anti-aliased 0..255
    for name, values, stands in (
        ("255.tif", road.astype(np.uint8) * 255, True),
        ("aa.tif", antialiased(road), False),
    ):
        path = tagged_mask(tmp_path / name, values)
        with open_mask(path, scan=False) as reader:
            first = read_in_blocks(reader)
            assert settle_rule(reader) is stands
            np.testing.assert_array_equal(read_in_blocks(reader), road)
        if stands:
            np.testing.assert_array_equal(first, road)
        lines = vectorize_mask(path, **opts)
        assert shapely.equals(lines.union_all(), ref.union_all()), name


def test_soft_mask_vectorizes_as_its_half_maximum_road():
    road = roads()
    grid_kw = {"transform": rasterio.Affine(0.5, 0, 5e5, 0, -0.5, 4e6), "crs": "EPSG:32633"}
    soft_lines = vectorize_mask(antialiased(road), progress=False, **grid_kw)
    ref = vectorize_mask(road, progress=False, **grid_kw)
    naive = vectorize_mask(antialiased(road) > 0, progress=False, **grid_kw)
    assert shapely.equals(soft_lines.union_all(), ref.union_all())
    np.testing.assert_allclose(soft_lines["width_m"], ref["width_m"])
    # the check matters: reading the soft mask as "non-zero" widens the roads
    assert naive["width_m"].mean() > ref["width_m"].mean()


def test_binary_mask_is_not_scanned_before_vectorizing(tmp_path, monkeypatch):
    path = write_geotiff(tmp_path / "mask.tif", roads().astype(np.uint8) * 255)
    expected = vectorize_mask(path, progress=False)
    reads = []
    real = grid.read_pixels
    monkeypatch.setattr(grid, "read_pixels", lambda *a: reads.append(a[2]) or real(*a))

    def no_scan(*args, **kwargs):
        raise AssertionError("upfront scan of a one-band mask")

    monkeypatch.setattr(grid, "road_rule", no_scan)
    lines = vectorize_mask(path, progress=False)
    assert shapely.equals(lines.union_all(), expected.union_all())
    assert len(reads) == 1  # one block, read once


def test_soft_mask_work_is_done_once(monkeypatch):
    """Once the check finds the mask soft, the first pass only reads on: the blocks are
    cleaned and thinned once, under the half-maximum rule, as for the binary mask."""
    import geoseg.vectorize.blocks as blocks

    calls = []
    real = blocks.skeletonize
    monkeypatch.setattr(blocks, "skeletonize", lambda road: calls.append(1) or real(road))
    road = roads(160)
    grid_kw = {"transform": rasterio.Affine(0.5, 0, 5e5, 0, -0.5, 4e6), "crs": "EPSG:32633"}
    opts = {"progress": False, "block_size": 64, "halo": 16, **grid_kw}
    binary = vectorize_mask(road, **opts)
    binary_calls, calls[:] = len(calls), []
    soft_lines = vectorize_mask(antialiased(road), **opts)
    assert binary_calls >= 4 and len(calls) == binary_calls
    assert shapely.equals(soft_lines.union_all(), binary.union_all())
