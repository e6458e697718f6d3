"""APLS and junction F1: identical, damaged, shifted and reprojected networks."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString

from geoseg.errors import DataError
from geoseg.metrics.apls import apls

# a 300 x 100 m ladder: two long roads joined by three rungs, junctions at shared vertices
TOP = LineString([(0, 100), (150, 100), (300, 100)])
BOTTOM = LineString([(0, 0), (150, 0), (300, 0)])
RUNGS = [LineString([(x, 0), (x, 100)]) for x in (0, 150, 300)]
GRID = [TOP, BOTTOM, *RUNGS]


def shifted(lines, dx=0.0, dy=0.0):
    return [shapely.affinity.translate(ln, dx, dy) for ln in lines]


def test_identical_networks_score_one():
    r = apls(GRID, GRID)
    assert (r.apls, r.apls_gt_to_prop, r.apls_prop_to_gt, r.junction_f1) == (1.0, 1.0, 1.0, 1.0)
    assert r.n_junctions_truth == 2 and r.n_paths_gt_to_prop > 100
    assert r.truth_length_m == pytest.approx(900)


def test_removed_edge_scores_lower():
    r = apls(GRID, [TOP, BOTTOM, RUNGS[0], RUNGS[2]])
    assert r.apls < 0.9 and r.apls_gt_to_prop < r.apls_prop_to_gt < 1.0
    assert r.junction_recall == 0.0


def test_gap_scores_lower():
    left = LineString([(0, 0), (140, 0)])
    right = LineString([(160, 0), (300, 0)])
    r = apls(GRID, [TOP, left, right, *RUNGS])
    assert r.apls < 0.85 and r.apls_gt_to_prop < 0.85 and r.apls_prop_to_gt < 0.85
    assert r.junction_recall == 0.5  # the junction at the gap is gone


def test_extra_spur_only_hurts_proposal_to_truth():
    r = apls(GRID, GRID + [LineString([(150, 100), (150, 200)])])
    assert r.apls_gt_to_prop == 1.0
    assert r.apls_prop_to_gt < 1.0 and r.apls < 1.0


def test_swapping_truth_and_proposal_swaps_the_halves():
    prop = [TOP, BOTTOM, RUNGS[0], LineString([(150, 100), (150, 200)])]
    a, b = apls(GRID, prop), apls(prop, GRID)
    assert a.apls_gt_to_prop == pytest.approx(b.apls_prop_to_gt)
    assert a.apls_prop_to_gt == pytest.approx(b.apls_gt_to_prop)
    assert a.apls == pytest.approx(b.apls)
    assert a.junction_f1 == pytest.approx(b.junction_f1)


def test_snapping_tolerance_is_four_metres():
    assert apls(GRID, shifted(GRID, 0, 3)).apls > 0.95
    assert apls(GRID, shifted(GRID, 0, 6)).apls < 0.5
    assert apls(GRID, shifted(GRID, 0, 6), snap_m=8).apls > 0.95


def test_junction_radius():
    moved = shifted(GRID, 3, 0)
    assert apls(GRID, moved, junction_radius_m=5).junction_f1 == 1.0
    assert apls(GRID, moved, junction_radius_m=2).junction_f1 == 0.0


def test_empty_networks():
    with pytest.raises(DataError, match="both road networks are empty"):
        apls([], [])  # nothing to score is not a perfect score
    r = apls(GRID, [])
    assert (r.apls, r.apls_gt_to_prop, r.junction_recall) == (0.0, 0.0, 0.0)


def test_lengths_in_metres_for_epsg_4326():
    utm = "EPSG:32633"
    origin = shapely.affinity.translate  # place the ladder at a real UTM location
    t = gpd.GeoDataFrame(geometry=[origin(g, 500000, 4000000) for g in GRID], crs=utm)
    p = gpd.GeoDataFrame(
        geometry=[origin(g, 500000, 4000000) for g in [TOP, BOTTOM, RUNGS[0], RUNGS[2]]], crs=utm
    )
    in_utm = apls(t, p)
    in_deg = apls(t.to_crs(4326), p.to_crs(4326))
    assert in_deg.crs == "EPSG:32633"
    assert in_deg.truth_length_m == pytest.approx(900, abs=0.05)
    assert in_deg.apls == pytest.approx(in_utm.apls, abs=1e-6)
    assert in_deg.n_paths_gt_to_prop == in_utm.n_paths_gt_to_prop
    # a mixed pair: the proposal is reprojected onto the truth's metric CRS
    assert apls(t, p.to_crs(4326)).apls == pytest.approx(in_utm.apls, abs=1e-6)


def test_sampled_nodes_are_deterministic_and_close_to_all_pairs():
    prop = [TOP, BOTTOM, RUNGS[0], RUNGS[2]]
    full = apls(GRID, prop)
    a, b = apls(GRID, prop, max_nodes=10, seed=1), apls(GRID, prop, max_nodes=10, seed=1)
    assert a == b and a.n_paths_gt_to_prop < full.n_paths_gt_to_prop
    assert a.apls == pytest.approx(full.apls, abs=0.2)


def smooth_warp(geom, amp=1.5):
    """Move every vertex by a smooth field (shared vertices stay shared)."""

    def f(c):
        return c + amp * np.stack([np.sin(c[:, 1] / 30), np.cos(c[:, 0] / 40)], axis=1)

    return shapely.transform(geom, f)


def test_real_spacenet_network(realdata):
    truth = gpd.read_file(realdata / "spacenet_vegas_rgb" / "vegas_img0_roads_randomized.geojson")
    assert apls(truth, truth).apls == 1.0
    utm = truth.to_crs(truth.estimate_utm_crs())
    warped = utm.set_geometry([smooth_warp(g) for g in utm.geometry])
    r = apls(truth, warped)
    assert 0.9 < r.apls < 1.0 and r.junction_f1 == 1.0
    damaged = apls(truth, warped.iloc[::2])
    assert damaged.apls < r.apls


# ----------------------------------------------- --apls-reference: the reference's parameters
LOOP = LineString([(300, 100), (340, 100), (340, 140), (300, 140), (300, 100)])


def test_reference_mode_drops_loop_roads():
    # a 160 m loop road the truth lacks costs the proposal in geoseg's APLS, not in the
    # reference's, which leaves loops out
    ours = apls(GRID, GRID + [LOOP])
    ref = apls(GRID, GRID + [LOOP], reference=True)
    assert ours.apls_prop_to_gt < 0.99
    assert ref.apls == pytest.approx(1.0)


def test_reference_mode_scores_paths_shorter_than_10_m():
    # a 6 m stub the proposal misses: its pairs with the nearby junction are 6 m long,
    # skipped by geoseg's 10 m minimum and scored by the reference's 0.001 m
    stub = LineString([(150, 100), (150, 106)])
    ours = apls(GRID + [stub], GRID, control_spacing_m=50)
    ref = apls(GRID + [stub], GRID, control_spacing_m=50, reference=True)
    assert ours.n_paths_gt_to_prop < ref.n_paths_gt_to_prop
    assert ref.apls_gt_to_prop < 1.0


def test_reference_mode_renames_nodes_two_points_cannot_share():
    # two truth roads end 2 cm apart; the proposal is one road through that spot: both
    # ends snap onto the same point, which the reference's renaming gives to one of them
    truth = [LineString([(0, 0), (100, 0)]), LineString([(100.02, 0), (200, 0)])]
    prop = [LineString([(0, 0), (200, 0)])]
    ours = apls(truth, prop)
    ref = apls(truth, prop, reference=True)
    assert ref.apls_gt_to_prop < ours.apls_gt_to_prop
