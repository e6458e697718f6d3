"""One road, one line (issue 12): no two centrelines over the same ground, and the
reported length is the length of the distinct geometry — on the sample scenes and on
every real mask in ../shared/realdata."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from overlap import overlap_stats
from vectorize_scenes import draw_roads, vectorize

from geoseg.vectorize import vectorize_mask
from geoseg.vectorize.lines import lengths_m

SAMPLES = sorted(glob.glob(str(Path(__file__).parents[2] / "sample_data" / "*_mask.tif")))


def assert_one_line_per_road(roads, summed_limit=1.04, side_limit=1.02):
    stats = overlap_stats(roads)
    assert stats["side_by_side"] < side_limit, stats  # no two lines side by side
    assert stats["summed_over_union"] < summed_limit, stats  # junctions only
    crs = rasterio.crs.CRS.from_user_input(roads.crs) if roads.crs is not None else None
    distinct = lengths_m(shapely.get_parts(shapely.union_all(roads.geometry.values)), crs).sum()
    length = roads["length_m" if crs is not None else "length_px"]  # the no-CRS rule
    assert length.sum() == pytest.approx(distinct, rel=1e-6)  # nothing twice
    return stats


def binary(path) -> np.ndarray:
    """Band 1 of a non-georeferenced PNG mask (DeepGlobe's 3 equal bands, ETH's soft
    grey), road where ≥ 128."""
    with rasterio.open(path) as src:
        return (src.read(1) >= 128).astype(np.uint8)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: Path(p).name)
def test_sample_scenes(path):
    assert_one_line_per_road(vectorize_mask(path, progress=False))


def test_spacenet_vegas(realdata):
    roads = vectorize_mask(
        realdata / "spacenet_vegas_pan" / "vegas_pan_roads_mask.tif", progress=False
    )
    assert_one_line_per_road(roads, summed_limit=1.02)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_deepglobe_and_eth_masks(realdata):
    """Pixel units (no CRS).  ETH's roads are 20-45 px wide on 400 px tiles: their lines
    are short next to their width, so the junction overlaps weigh more there."""
    paths = sorted((realdata / "deepglobe").glob("*_mask.png"))
    eth = sorted((realdata / "eth_cil_400" / "groundtruth").glob("*.png"))
    assert len(paths) == 3 and len(eth) == 80
    worst = 1.0
    for path in paths + eth:
        roads = vectorize_mask(binary(path), transform=rasterio.Affine.identity(), progress=False)
        stats = assert_one_line_per_road(roads, summed_limit=1.04 if path in paths else 1.08)
        worst = max(worst, stats["side_by_side"])
    assert worst < 1.02


def test_crossing_of_wide_roads_shares_no_stretch():
    """Two 40 px roads crossing at 60°: the skeleton leaves two junctions less than a
    road width apart, contracted into one node; the arms of each junction used to run
    into that node over one stretch (13.6 m twice, 3.7 % of the length)."""
    from shapely.geometry import LineString

    across = LineString([(0, 150), (400, 150)])
    slope = np.tan(np.radians(60))
    diagonal = LineString([(200 - 150 / slope, 300), (200 + 150 / slope, 0)])
    roads = vectorize(draw_roads((300, 400), [across, diagonal], 40))
    assert len(roads) == 4  # one node, four arms
    geoms = roads.geometry.values
    shared = sum(
        shapely.intersection(geoms[i], geoms[j]).length
        for i in range(len(geoms))
        for j in range(i + 1, len(geoms))
    )
    assert shared == 0
    assert_one_line_per_road(roads, summed_limit=1.1, side_limit=1.005)


def _chain(points, step=1.0):
    """Pixel chain (row, col) through `points`, one vertex per `step` pixels."""
    pts = []
    for (r0, c0), (r1, c1) in zip(points[:-1], points[1:]):
        n = max(int(np.hypot(r1 - r0, c1 - c0) / step), 1)
        pts.extend(
            zip(np.linspace(r0, r1, n, endpoint=False), np.linspace(c0, c1, n, endpoint=False))
        )
    pts.append(points[-1])
    return np.array(pts, float)


@pytest.mark.parametrize("bulge,kept", [(4, 1), (30, 2)])
def test_two_lines_between_two_nodes_are_one_road_only_when_they_share_ground(bulge, kept):
    """Parallel edges 4 px apart on an 8 px road (half widths 4 + 4): one road, the
    central one stays; 30 px apart (two carriageways round an island): both stay."""
    from geoseg.vectorize.graph import RoadGraph
    from geoseg.vectorize.params import PixelSize
    from geoseg.vectorize.repair import drop_duplicates

    graph = RoadGraph((200, 200), PixelSize(1.0, 1.0), with_prob=False)
    u, v = 100 * 200 + 20, 100 * 200 + 180
    straight = _chain([(100, 20), (100, 180)])
    bent = _chain([(100, 20), (100 + bulge, 60), (100 + bulge, 140), (100, 180)])
    graph.add(u, v, straight, np.full(len(straight), 4.0), None)
    graph.add(u, v, bent, np.full(len(bent), 3.5), None)
    for far in (0, 199):  # both nodes are junctions: a spur leaves each
        node = 100 * 200 + far
        spur = _chain([(100, far), (100, 20 if far == 0 else 180)])
        graph.add(node, u if far == 0 else v, spur, np.full(len(spur), 4.0), None)
    drop_duplicates(graph)
    between = [e for e in graph.edges.values() if {e.u, e.v} == {u, v}]
    if kept == 1:  # the one left is the straight, central one, merged with the spurs
        assert len(graph.edges) == 1
        assert np.allclose(next(iter(graph.edges.values())).rc[:, 0], 100)
    else:
        assert len(between) == 2
