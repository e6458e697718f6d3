"""Road graphs from centerlines: junctions at shared vertices, degree-2 merging, metres."""

import geopandas as gpd
import pytest
from shapely.geometry import LineString, MultiLineString, Point

from geoseg.errors import DataError
from geoseg.metrics.graph import build_graph, junctions, split_edges, to_metric_lines, total_length


def test_t_junction_at_shared_vertex():
    g = build_graph([LineString([(0, 0), (50, 0), (100, 0)]), LineString([(50, 0), (50, 80)])])
    assert g.number_of_nodes() == 4 and g.number_of_edges() == 3
    assert junctions(g).tolist() == [[50.0, 0.0]]
    assert total_length(g) == pytest.approx(180)


def test_crossing_without_shared_vertex_is_an_overpass_unless_noded():
    lines = [LineString([(0, 0), (100, 0)]), LineString([(50, -50), (50, 50)])]
    assert len(junctions(build_graph(lines))) == 0
    assert junctions(build_graph(lines, node_crossings=True)).tolist() == [[50.0, 0.0]]


def test_degree_two_nodes_are_merged_and_multilines_exploded():
    g = build_graph([MultiLineString([[(0, 0), (30, 0)], [(30, 0), (30, 40)]])])
    assert g.number_of_nodes() == 2 and g.number_of_edges() == 1
    ((_, _, d),) = g.edges(data=True)
    assert d["length"] == pytest.approx(70)


def test_split_edges_shares_coincident_points():
    g = build_graph([LineString([(0, 0), (100, 0)])])
    ((u, v, k),) = g.edges(keys=True)
    start = u if g.nodes[u]["xy"] == (0.0, 0.0) else v
    other = v if start == u else u
    if start != g.edges[u, v, k]["start"]:
        u, v = v, u
    labels = split_edges(g, {(u, v, k): [(40.0, "a"), (40.01, "b"), (0.01, "c"), (70.0, "d")]})
    assert labels["a"] == labels["b"] and labels["c"] == start
    assert g.number_of_nodes() == 4 and total_length(g) == pytest.approx(100)
    assert g.nodes[labels["d"]]["xy"] == pytest.approx((70.0, 0.0))
    assert other in g


def test_geographic_input_is_projected_to_utm_metres():
    line = gpd.GeoSeries([LineString([(500000, 4000000), (500000, 4001000)])], crs="EPSG:32633")
    t, p, crs = to_metric_lines(line.to_crs(4326), line.to_crs(4326))
    assert crs.to_epsg() == 32633
    assert t[0].length == pytest.approx(1000, abs=0.01)


def test_points_are_rejected():
    with pytest.raises(DataError, match="LineStrings"):
        to_metric_lines([Point(0, 0)], [])


def test_duplicated_roads_count_once():
    road = LineString([(0, 0), (60, 0), (100, 0)])
    g = build_graph([road, road.reverse(), LineString([(60, 0), (60, 50)])])
    assert g.number_of_edges() == 3 and total_length(g) == pytest.approx(150)
