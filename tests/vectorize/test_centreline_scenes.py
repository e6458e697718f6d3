"""Vectorizing masks rasterized from known centrelines gives those centrelines back."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, box
from vectorize_scenes import RES, draw_roads, node_degrees, to_pixels, vectorize


def sample_like_network(size: int = 400) -> list[LineString]:
    """A small town: a winding main road, a grid of streets, a diagonal and a cul-de-sac."""
    t = np.linspace(0, 1, 200)
    winding = LineString(
        np.column_stack([t * (size + 40) - 20, size * 0.45 + 40 * np.sin(t * 2 * np.pi)])
    )
    return [
        winding,
        LineString([(80, -20), (80, size + 20)]),
        LineString([(260, -20), (250, size + 20)]),
        LineString([(80, 300), (250, 300)]),
        LineString([(250, 100), (size + 20, 20)]),
        LineString([(160, 300), (160, 360)]),  # cul-de-sac
    ]


def offsets(a, b, step: float = 1.0) -> np.ndarray:
    """Distances from points every `step` along lines `a` to geometry `b`."""
    points = [ln.interpolate(d) for ln in a for d in np.arange(0, ln.length, step)]
    return shapely.distance(np.array(points), b)


def test_lines_within_two_pixels_and_overlap_above_90_percent():
    size = 400
    truth = [ln.intersection(box(0, 0, size - 1, size - 1)) for ln in sample_like_network(size)]
    mask = draw_roads((size, size), truth, 11)
    roads = vectorize(mask, block_size=150, halo=40)  # seams cross every road
    lines = list(to_pixels(roads))
    truth_union, found_union = shapely.union_all(truth), shapely.union_all(lines)

    found_to_truth = offsets(lines, truth_union)
    truth_to_found = offsets(truth, found_union)
    assert found_to_truth.mean() < 2.0 and truth_to_found.mean() < 2.0
    assert np.quantile(found_to_truth, 0.95) < 3.0

    buffer = 4.0  # pixels (2 m)
    recall = truth_union.intersection(found_union.buffer(buffer)).length / truth_union.length
    precision = found_union.intersection(truth_union.buffer(buffer)).length / found_union.length
    assert recall >= 0.9 and precision >= 0.9

    # topology: the graph is connected like the truth (one component, T/X junctions)
    degrees = node_degrees(roads)
    assert max(degrees.values()) <= 4 and sum(d >= 3 for d in degrees.values()) >= 5
    assert (roads.length_m > 0).all() and np.allclose(roads.width_m, 11 * RES, atol=2 * RES)
