"""Core regions and seam joins: one line per road across overlapping scenes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, box

from geoseg.batch.merge import core_regions, duplicated_length, merge_lines

CRS = "EPSG:32633"


def lines(*geoms, width=6.0):
    return gpd.GeoDataFrame(
        {"length_m": [g.length for g in geoms], "width_m": width, "mean_prob": 0.8},
        geometry=list(geoms),
        crs=CRS,
    )


def test_cores_partition_the_footprints_with_a_midline_seam():
    fps = [box(0, 0, 1000, 1000), box(800, 0, 1800, 1000), box(0, 800, 1000, 1800)]
    cores = core_regions(fps)
    union = shapely.union_all(fps)
    assert abs(shapely.union_all(cores).area - union.area) < 1e-6 * union.area
    for i in range(3):
        assert cores[i].within(fps[i].buffer(1e-6))
        for j in range(i + 1, 3):
            assert cores[i].intersection(cores[j]).area < 1e-6
    # the seam between scenes 0 and 1 runs through the middle of their overlap (away
    # from the corner that scene 2 also covers)
    seam = cores[0].boundary.intersection(cores[1].boundary).intersection(box(0, 0, 1800, 700))
    xs = shapely.get_coordinates(seam)[:, 0]
    assert len(xs) and np.all(np.abs(xs - 900) < 1000 / 128 * 1.5)


def test_road_crossing_scenes_is_one_continuous_line():
    fps = [box(0, 0, 1000, 1000), box(800, 0, 1800, 1000)]
    truth = LineString([(0, 500), (1800, 520)])
    # each scene found the road a little differently (1.5 m apart) and over its whole extent
    a = lines(shapely.affinity.translate(truth, 0, 0.75).intersection(fps[0]))
    b = lines(shapely.affinity.translate(truth, 0, -0.75).intersection(fps[1]))
    merged, km = merge_lines([a, b], fps, ["a", "b"], work_crs=CRS, snap_m=4.0)
    assert len(merged) == 1  # no duplicate in the overlap, no break at the seam
    line = merged.geometry.iloc[0]
    assert abs(line.length - truth.length) < 1.0
    assert merged["scenes"].iloc[0] == "a,b"
    assert merged["length_m"].iloc[0] == line.length
    assert abs(sum(km) * 1000 - line.length) < 1.0
    assert merged["node_from"].iloc[0] != merged["node_to"].iloc[0]
    assert abs(merged["width_m"].iloc[0] - 6.0) < 1e-9


def test_ends_too_far_apart_stay_apart_and_aoi_clips():
    fps = [box(0, 0, 1000, 1000), box(800, 0, 1800, 1000)]
    a = lines(LineString([(0, 500), (1000, 500)]))
    b = lines(LineString([(800, 540), (1800, 540)]))  # a different road, 40 m away
    merged, _ = merge_lines([a, b], fps, ["a", "b"], work_crs=CRS, snap_m=4.0)
    assert len(merged) == 2
    assert abs(merged.length.sum() - 1800) < 1e-6  # each cut at the seam, nothing twice
    aoi = box(500, 0, 1500, 1000)
    clipped, km = merge_lines([a, b], fps, ["a", "b"], work_crs=CRS, aoi=aoi, snap_m=4.0)
    assert clipped.geometry.within(aoi.buffer(1e-6)).all()
    assert abs(clipped.length.sum() - 1000) < 1e-6 and abs(sum(km) - 1.0) < 1e-9


def test_empty_inputs_give_an_empty_layer():
    merged, km = merge_lines([], [], [], work_crs=CRS)
    assert len(merged) == 0 and km == [] and merged.crs == CRS


def test_duplicated_length_counts_roads_mapped_twice_not_junctions():
    road = LineString([(0, 0), (100, 0)])
    cross = LineString([(50, -50), (50, 0)])  # a T junction: not a duplicate
    assert duplicated_length(lines(road, cross)) == 0.0
    twice = shapely.affinity.translate(road, 0, 1.0)  # the same road again, 1 m off
    assert 70 <= duplicated_length(lines(road, twice)) / 2 <= 100


def _scene_lines_with_seam_roads(offsets):
    """Four 200 px scenes (1 m, overlap 40 px) of the batch fixture's area, with two more
    roads running along the a|b and a|c seams; each scene sees every road shifted by its
    own offset (m), as two predictions of one road differ.  Returns (lines, footprints,
    mask of the whole area, transform)."""
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    from geoseg.vectorize import vectorize_mask
    from tests.batch.conftest import SIZE, STEP, WIN, X0, Y0, true_lines

    roads = list(true_lines().geometry) + [
        LineString([(X0 + 180, Y0), (X0 + 180, Y0 - SIZE)]),  # on the a|b seam
        LineString([(X0, Y0 - 181), (X0 + SIZE, Y0 - 179)]),
    ]  # along the a|c seam
    out, fps = [], []
    for (r, c), (dx, dy) in zip([(0, 0), (0, STEP), (STEP, 0), (STEP, STEP)], offsets):
        transform = from_origin(X0 + c, Y0 - r, 1.0, 1.0)
        mask = rasterize(
            [shapely.affinity.translate(g, dx, dy).buffer(3, cap_style="flat") for g in roads],
            out_shape=(WIN, WIN),
            transform=transform,
            dtype="uint8",
        )
        out.append(vectorize_mask(mask, transform=transform, crs=CRS, progress=False))
        fps.append(box(X0 + c, Y0 - r - WIN, X0 + c + WIN, Y0 - r))
    transform = from_origin(X0, Y0, 1.0, 1.0)
    whole = rasterize(
        [g.buffer(3, cap_style="flat") for g in roads],
        out_shape=(SIZE, SIZE),
        transform=transform,
        dtype="uint8",
    )
    return out, fps, whole, transform


def test_roads_along_seams_are_kept_once():
    """Each scene keeps its own version of a road along a seam on its side of it: two
    lines 2.4 m apart over one road (237 m of 2237 m twice) before the merge kept one."""
    import networkx as nx

    from geoseg.vectorize import vectorize_mask
    from tests.overlap import overlap_stats

    scene_lines, fps, whole, transform = _scene_lines_with_seam_roads(
        [(0, 1.2), (1.2, 0), (0, -1.2), (-1.2, 0)]
    )
    merged, km = merge_lines(scene_lines, fps, list("abcd"), work_crs=CRS, snap_m=8.0)
    stats = overlap_stats(merged)
    assert stats["side_by_side"] < 1.005 and stats["summed_over_union"] < 1.03, stats
    assert duplicated_length(merged) == 0.0
    distinct = shapely.union_all(merged.geometry.values).length
    assert merged["length_m"].sum() == pytest.approx(distinct, rel=1e-9)
    reference = vectorize_mask(whole, transform=transform, crs=CRS, progress=False)
    assert merged["length_m"].sum() == pytest.approx(reference["length_m"].sum(), rel=0.01)
    graph = nx.MultiGraph()
    graph.add_edges_from(zip(merged["node_from"], merged["node_to"]))
    assert nx.number_connected_components(graph) == 1  # cut ends joined to the kept line


def test_identical_duplicates_come_out_once():
    """The same road twice in one scene's lines (and again from its neighbour) gives one
    line in the merged layer."""
    fps = [box(0, 0, 1000, 1000), box(800, 0, 1800, 1000)]
    road = LineString([(0, 500), (1000, 500)])
    a = lines(road, road, shapely.affinity.translate(road, 0, 0.5))
    b = lines(LineString([(800, 500.3), (1800, 500.3)]))
    merged, _ = merge_lines([a, b], fps, ["a", "b"], work_crs=CRS, snap_m=4.0)
    assert abs(merged.length.sum() - 1800) < 2.0
    assert duplicated_length(merged) == 0.0
    assert shapely.union_all(merged.geometry.values).length == pytest.approx(
        merged["length_m"].sum(), rel=1e-9
    )
