"""Shapes with known answers: lines, nodes, degrees, geometry in the scene's CRS."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point
from vectorize_scenes import RES, TRANSFORM, UTM, draw_roads, node_degrees, to_pixels, vectorize

from geoseg.errors import BandMismatchError, GeoSegError, GridMismatchError, RasterReadError


def test_straight_road_maps_to_exact_utm_coordinates():
    mask = np.zeros((120, 200), np.uint8)
    mask[56:65, 30:170] = 1  # rows 56..64: centre row 60
    roads = vectorize(mask)
    assert len(roads) == 1 and roads.crs == UTM
    xy = shapely.get_coordinates(roads.geometry.values)
    y_centre = TRANSFORM.f - (60 + 0.5) * RES
    np.testing.assert_allclose(xy[:, 1], y_centre, atol=1e-9)
    assert xy[:, 0].min() < TRANSFORM.c + 40 * RES and xy[:, 0].max() > TRANSFORM.c + 160 * RES
    row = roads.iloc[0]
    assert row.length_m == pytest.approx(roads.geometry.length.iloc[0])
    assert row.width_m == pytest.approx(9 * RES, abs=RES)
    assert row.node_from != row.node_to


def test_t_junction_gives_three_lines_meeting_at_one_degree3_node():
    mask = draw_roads((240, 300), [[(20, 100), (280, 100)], [(150, 100), (150, 220)]], 9)
    roads = vectorize(mask)
    assert len(roads) == 3
    degrees = node_degrees(roads)
    assert sorted(degrees.values()) == [1, 1, 1, 3]
    hub = next(n for n, d in degrees.items() if d == 3)
    ends = [
        ln.coords[0] if a == hub else ln.coords[-1]
        for ln, a in zip(to_pixels(roads), roads["node_from"])
    ]
    assert all(Point(e).distance(Point(150, 100)) < 3 for e in ends)


def test_cross_gives_four_lines_at_one_degree4_node():
    mask = draw_roads((260, 260), [[(20, 130), (240, 130)], [(130, 20), (130, 240)]], 11)
    roads = vectorize(mask)
    assert len(roads) == 4
    assert sorted(node_degrees(roads).values()) == [1, 1, 1, 1, 4]


def test_loop_is_one_closed_line():
    ring = Point(120, 120).buffer(70).exterior
    roads = vectorize(draw_roads((240, 240), [ring], 9))
    assert len(roads) == 1
    line = to_pixels(roads)[0]
    assert line.is_closed and roads.node_from.iloc[0] == roads.node_to.iloc[0]
    assert shapely.hausdorff_distance(line, ring) < 2
    assert roads.length_m.iloc[0] == pytest.approx(ring.length * RES, rel=0.03)


def test_road_touching_scene_edge_reaches_the_edge():
    mask = draw_roads((200, 200), [[(100, -10), (100, 150)]], 9)  # enters from the top
    roads = vectorize(mask)
    assert len(roads) == 1
    ys = shapely.get_coordinates(roads.geometry.values)[:, 1]
    assert ys.max() == pytest.approx(TRANSFORM.f)  # the raster's top edge itself


def test_one_pixel_wide_diagonal_road():
    mask = np.zeros((150, 150), np.uint8)
    idx = np.arange(20, 130)
    mask[idx, idx] = 255
    roads = vectorize(mask, min_area_m2=0)
    assert len(roads) == 1
    line = to_pixels(roads)[0]
    assert shapely.hausdorff_distance(line, LineString([(20, 20), (129, 129)])) < 1.5
    assert roads.width_m.iloc[0] == pytest.approx(RES)


@pytest.mark.parametrize("block_size", [64, 100])
def test_road_crossing_block_seams_is_one_line(block_size):
    curve = LineString([(10, 30), (90, 80), (150, 150), (230, 170)])
    mask = draw_roads((200, 240), [curve], 7)
    whole = vectorize(mask, block_size=4096)
    blocked = vectorize(mask, block_size=block_size, halo=32)
    assert len(whole) == 1 and len(blocked) == 1
    assert shapely.hausdorff_distance(blocked.geometry.iloc[0], whole.geometry.iloc[0]) < 1e-6


def test_network_across_blocks_equals_whole_scene():
    lines = [
        [(10, 50), (290, 60)],
        [(150, 5), (140, 290)],
        [(20, 200), (280, 250)],
        [(60, 55), (40, 280)],
    ]
    mask = draw_roads((300, 300), lines, 7)
    whole = vectorize(mask)
    blocked = vectorize(mask, block_size=64, halo=24)
    assert len(blocked) == len(whole)
    assert sorted(node_degrees(blocked).values()) == sorted(node_degrees(whole).values())
    a, b = whole.geometry.union_all(), blocked.geometry.union_all()
    assert shapely.hausdorff_distance(a, b) < 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_random_networks_do_not_depend_on_block_layout(seed):
    rng = np.random.default_rng(seed)
    lines = [rng.uniform(-20, 260, size=(rng.integers(2, 4), 2)) for _ in range(rng.integers(2, 7))]
    mask = draw_roads((240, 240), lines, int(rng.integers(3, 14)))
    mask[rng.random(mask.shape) < 0.01] = 255  # speckle for the cleanup to remove
    whole = vectorize(mask)
    blocked = vectorize(mask, block_size=int(rng.integers(64, 130)), halo=32)
    assert len(blocked) == len(whole) > 0
    assert (blocked.geometry.values == whole.geometry.values).all()  # same lines, same order
    np.testing.assert_allclose(blocked.width_m, whole.width_m)


def test_short_spur_is_pruned_long_branch_kept():
    main = [(10, 100), (290, 100)]
    spur = [(100, 100), (100, 112)]  # 12 px = 6 m < 10 m
    branch = [(200, 100), (200, 180)]  # 40 m
    roads = vectorize(draw_roads((200, 300), [main, spur, branch], 5))
    assert len(roads) == 3  # main split at the branch junction only
    assert sorted(node_degrees(roads).values()) == [1, 1, 1, 3]
    kept = vectorize(draw_roads((200, 300), [main, spur, branch], 5), prune_m=2)
    assert len(kept) == 5


def test_aligned_gap_is_bridged_misaligned_is_not():
    left, right = [(10, 100), (140, 100)], [(152, 100), (290, 100)]  # 6 m gap
    roads = vectorize(draw_roads((200, 300), [left, right], 7))
    assert len(roads) == 1 and roads.length_m.iloc[0] > 130
    apart = vectorize(draw_roads((200, 300), [left, right], 7), bridge_m=3)
    assert len(apart) == 2
    offset = vectorize(draw_roads((200, 300), [left, [(152, 100), (152, 190)]], 7))
    assert len(offset) == 2  # the gap runs across the second road's direction


def test_mean_prob_and_empty_mask_schema():
    mask = draw_roads((120, 160), [[(10, 60), (150, 60)]], 7)
    prob = np.where(mask > 0, 200, 10).astype(np.uint8)
    roads = vectorize(mask, prob=prob)
    assert roads.mean_prob.iloc[0] == pytest.approx(200 / 255, abs=1e-6)
    empty = vectorize(np.zeros((50, 50), np.uint8), prob=np.zeros((50, 50), np.uint8))
    assert len(empty) == 0 and empty.crs == UTM
    assert list(empty.columns) == list(roads.columns)


def test_no_crs_warns_and_uses_pixel_coordinates(caplog):
    from geoseg.vectorize import vectorize_mask

    mask = np.zeros((60, 100), np.uint8)
    mask[28:33, 10:90] = 1
    with caplog.at_level(logging.WARNING):
        roads = vectorize_mask(mask, progress=False)
    assert "no CRS" in caplog.text
    assert roads.crs is None
    # the no-CRS rule (io/grid.display_transform): QGIS's pixel space, y = -row, so the
    # centre of pixel row 30 is at y = -30.5 (was +30.5, rows down, before issue 13)
    np.testing.assert_allclose(shapely.get_coordinates(roads.geometry.values)[:, 1], -30.5)


def test_bad_inputs_raise_one_line_errors(tmp_path, geotiff_factory):
    from geoseg.vectorize import vectorize_mask

    # issue 13's one road-mask rule: a soft mask (values between 0 and its maximum) is
    # road at >= half its maximum, and equal bands are one mask (DeepGlobe's RGB masks);
    # before, a 0.3 float raster was "not a road mask" and any 3-band mask refused
    soft = np.zeros((40, 40), np.float32)
    soft[17:24, 2:38], soft[18:23, 2:38] = 0.2, 0.6  # anti-aliased edges below 0.3
    assert len(vectorize(soft)) == 1
    three = geotiff_factory(np.zeros((3, 40, 40), np.uint8))
    assert len(vectorize_mask(three, progress=False)) == 0
    rgb = np.zeros((3, 40, 40), np.uint8)
    rgb[1, 5, 7] = 9
    with pytest.raises(BandMismatchError, match="not a road mask.*one band, or equal bands"):
        vectorize_mask(geotiff_factory(rgb), progress=False)
    with pytest.raises(GridMismatchError):
        vectorize(np.zeros((40, 40), np.uint8), prob=np.zeros((41, 40), np.uint8))
    with pytest.raises(GeoSegError, match="file not found"):
        vectorize_mask(tmp_path / "missing.tif")
    for err in (RasterReadError, BandMismatchError):
        assert issubclass(err, GeoSegError)


def test_mask_file_with_nodata(geotiff_factory):
    from geoseg.vectorize import vectorize_mask

    mask = np.zeros((100, 120), np.uint8)
    mask[46:55, 10:110] = 255
    mask[:, :5] = 7  # nodata: not road, not an error
    path = geotiff_factory(mask, crs=UTM, res=RES, origin=(500000.0, 4000000.0), nodata=7)
    roads = vectorize_mask(path, progress=False)
    assert len(roads) == 1 and roads.crs == UTM
