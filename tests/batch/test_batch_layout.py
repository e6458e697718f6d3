"""Scenes far apart: one mosaic per group of nearby scenes and an overview with panels."""

from __future__ import annotations

import numpy as np
import rasterio
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_origin
from shapely.geometry import LineString, box

from geoseg.batch.layout import group_boxes
from geoseg.batch.mosaic import build_mosaics
from geoseg.batch.report import STATUS_COLOURS, write_overview

X0, Y0 = 500_000.0, 4_000_000.0


def _mask(path, origin, size=64, value=1):
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 1,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": from_origin(*origin, 0.5, 0.5),
        "nodata": 255,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((size, size), value, np.uint8), 1)
    return path


def test_grouping_rule():
    a, b = (0, 0, 100, 100), (150, 0, 250, 100)  # gap 50 <= side 100: together
    c = (10_000, 0, 10_100, 100)  # 9750 m from b: apart
    assert group_boxes([a, b, c, (0, 5_000, 4_000, 9_000)]) == [[3], [0, 1], [2]]  # 4900 m > 4000 m
    assert group_boxes([a, (0, 3_900, 4_000, 7_900)]) == [[0, 1]]  # 3800 m <= 4000 m
    assert group_boxes([a, (0, 4_200, 4_000, 8_200)]) == [[1], [0]]  # north first


def test_three_small_scenes_far_apart_get_one_mosaic_each(tmp_path):
    # 32 m scenes 30 km apart: one VRT over all three would be 120000 x 64 px
    masks = [_mask(tmp_path / f"m{i}.tif", (X0 + 30_000 * i, Y0), value=i + 1) for i in range(3)]
    build_mosaics(masks[:1], CRS.from_epsg(32633), tmp_path)  # an earlier run's one mosaic
    assert (tmp_path / "masks.vrt").exists()
    (tmp_path / "masks_9.vrt").write_text("a user's file")  # not geoseg's: it stays
    out = build_mosaics(masks, CRS.from_epsg(32633), tmp_path)
    assert (tmp_path / "masks_9.vrt").read_text() == "a user's file"
    assert [p.name for p, _ in out] == ["masks_1.vrt", "masks_2.vrt", "masks_3.vrt"]
    assert not (tmp_path / "masks.vrt").exists()
    for k, (vrt, members) in enumerate(out):
        with rasterio.open(vrt) as src:
            assert (src.width, src.height) == (64, 64)
            assert src.bounds.left == X0 + 30_000 * members[0]
            assert (src.read(1) == members[0] + 1).all()


def test_neighbouring_scenes_share_a_mosaic(tmp_path):
    masks = [
        _mask(tmp_path / "a.tif", (X0, Y0)),
        _mask(tmp_path / "b.tif", (X0 + 40, Y0)),
        _mask(tmp_path / "far.tif", (X0 + 50_000, Y0)),
    ]
    out = build_mosaics(masks, CRS.from_epsg(32633), tmp_path)
    assert [(p.name, m) for p, m in out] == [("masks_1.vrt", [0, 1]), ("masks_2.vrt", [2])]
    with rasterio.open(out[0][0]) as src:
        assert (src.width, src.height) == (144, 64)  # 32 m + 8 m gap + 32 m at 0.5 m
    # all together again: one masks.vrt, the numbered ones of the earlier run removed
    out = build_mosaics(masks[:2], CRS.from_epsg(32633), tmp_path)
    assert [p.name for p, _ in out] == ["masks.vrt"]
    assert sorted(p.name for p in tmp_path.glob("*.vrt")) == ["masks.vrt"]


def _colour_fraction(png, hex_colour, tol=60):
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    # footprints are drawn with alpha 0.18 over white
    want = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    tint = 255 + 0.18 * (want - 255)
    return float((np.abs(rgb - tint).sum(axis=2) < tol).mean()), rgb.shape


def test_overview_of_scenes_far_apart_is_readable(tmp_path):
    fps = [box(X0 + 30_000 * i, Y0, X0 + 30_000 * i + 350, Y0 + 450) for i in range(3)]
    import geopandas as gpd

    roads = gpd.GeoDataFrame(
        geometry=[
            LineString([(f.bounds[0], f.bounds[1] + 200), (f.bounds[2], f.bounds[1] + 200)])
            for f in fps
        ],
        crs="EPSG:32633",
    )
    png = write_overview(
        tmp_path / "overview.png", fps, ["done"] * 3, ["a", "b", "c"], roads=roads, title="3 scenes"
    )
    frac, (h, w, _) = _colour_fraction(png, STATUS_COLOURS["done"])
    assert h / w > 0.3  # not a strip
    assert frac > 0.05  # the scenes are drawn large enough to see (a strip map: ~0.1 %)
    # the same scenes side by side make one map, also readable
    near = [box(X0 + 400 * i, Y0, X0 + 400 * i + 350, Y0 + 450) for i in range(3)]
    png2 = write_overview(tmp_path / "near.png", near, ["done"] * 3, ["a", "b", "c"])
    frac2, _ = _colour_fraction(png2, STATUS_COLOURS["done"])
    assert frac2 > 0.2
