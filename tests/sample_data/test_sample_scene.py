"""generate_scene: determinism, georeferencing and ground truth that lines up with the image."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely
from rasterio.features import rasterize
from scipy import ndimage

from geoseg.sample_data import generate_scene
from geoseg.sample_data.network import ROAD_KINDS, road_network
from geoseg.sample_data.scene import DN_MAX_11BIT


@pytest.fixture(scope="module")
def rgb():
    return generate_scene(256, 320, seed=5)


@pytest.fixture(scope="module")
def big():
    return generate_scene(512, 512, seed=2)


@pytest.fixture(scope="module")
def collar():
    return generate_scene(256, 288, seed=6, nodata_collar=True)


@pytest.fixture(scope="module")
def multi():
    return generate_scene(192, 224, seed=7, bands="bgrn16")


def burn_lines(scene, buffered: bool) -> np.ndarray:
    """Rasterise the scene's centrelines (optionally buffered by width/2) on its grid."""
    geoms = scene.roads.geometry.values
    if buffered:
        geoms = shapely.buffer(geoms, scene.roads["width_m"].to_numpy() / 2)
    return rasterize(
        [(g, 1) for g in geoms],
        out_shape=scene.mask.shape,
        transform=scene.transform,
        fill=0,
        dtype="uint8",
    )


def test_same_arguments_same_scene_and_other_seed_differs(rgb):
    again = generate_scene(256, 320, seed=5)
    assert np.array_equal(again.image, rgb.image) and np.array_equal(again.mask, rgb.mask)
    assert again.roads.geometry.equals(rgb.roads.geometry)
    other = generate_scene(256, 320, seed=6)
    assert not np.array_equal(other.image, rgb.image)
    assert not np.array_equal(other.mask, rgb.mask)


def test_grid_dtypes_and_crs(rgb):
    assert rgb.image.shape == (3, 256, 320) and rgb.image.dtype == np.uint8
    assert rgb.mask.shape == (256, 320) and rgb.mask.dtype == np.uint8
    assert set(np.unique(rgb.mask)) == {0, 1}
    t = rgb.transform
    assert (t.a, t.e, t.b, t.d) == (0.5, -0.5, 0.0, 0.0) and rgb.res == 0.5
    assert rgb.crs == "EPSG:32633" and rgb.roads.crs.to_epsg() == 32633
    assert rgb.nodata is None and rgb.valid.all()
    # centrelines lie on the scene, in map units
    xmin, ymin, xmax, ymax = rgb.roads.total_bounds
    assert xmin >= t.c - 1e-6 and xmax <= t.c + 320 * 0.5 + 1e-6
    assert ymax <= t.f + 1e-6 and ymin >= t.f - 256 * 0.5 - 1e-6


def test_origin_resolution_and_crs_are_honoured():
    s = generate_scene(64, 80, seed=1, res=2.0, crs="EPSG:32618", origin=(600000.0, 4500000.0))
    assert (s.transform.c, s.transform.f, s.transform.a) == (600000.0, 4500000.0, 2.0)
    assert s.roads.crs.to_epsg() == 32618
    a, b = generate_scene(64, 64, seed=1), generate_scene(64, 64, seed=2)
    assert (a.transform.c, a.transform.f) != (b.transform.c, b.transform.f)


def test_road_attributes(big):
    roads = big.roads
    assert set(roads.geom_type) == {"LineString"}
    assert set(roads["kind"]) <= set(ROAD_KINDS)
    for kind, ((lo, hi), surfaces) in ROAD_KINDS.items():
        sub = roads[roads["kind"] == kind]
        assert sub["width_m"].between(lo, hi).all(), kind
        assert set(sub["surface"]) <= set(surfaces)


def test_centreline_pixels_are_inside_the_mask(rgb, big):
    for scene in (rgb, big):
        line = burn_lines(scene, buffered=False).astype(bool)
        assert line.sum() > 100
        assert scene.mask[line].all()


def test_mask_is_the_buffered_centrelines(rgb, big, collar):
    for scene in (rgb, big, collar):
        ref = burn_lines(scene, buffered=True).astype(bool) & scene.valid
        got = scene.mask.astype(bool)
        iou = (ref & got).sum() / (ref | got).sum()
        assert iou >= 0.97, iou


def test_image_differs_inside_and_outside_the_mask():
    for seed in (0, 3, 9):
        s = generate_scene(256, 256, seed=seed)
        road = s.mask.astype(bool)
        t = []
        for band in s.image.astype(np.float64):
            a, b = band[road], band[~road]
            t.append(abs(a.mean() - b.mean()) / np.sqrt(a.var() / a.size + b.var() / b.size))
        assert max(t) > 8.0, (seed, t)


def test_network_is_connected_with_junctions_curves_and_varied_widths(big):
    road = big.mask.astype(bool)
    labels, n = ndimage.label(road, np.ones((3, 3)))
    # roads may meet outside the scene, but most of them are one network inside it
    assert np.bincount(labels.ravel())[1:].max() >= 0.5 * road.sum()
    ends = np.round(
        np.concatenate([np.array([g.coords[0], g.coords[-1]]) for g in big.roads.geometry]), 1
    )
    _, counts = np.unique(ends, axis=0, return_counts=True)
    assert (counts >= 3).any(), "no junction where three or more roads meet"
    sinuosity = big.roads.length / [
        shapely.distance(shapely.Point(g.coords[0]), shapely.Point(g.coords[-1]))
        for g in big.roads.geometry
    ]
    assert (sinuosity > 1.01).any() and (sinuosity < 1.001).any()
    assert big.roads["width_m"].max() - big.roads["width_m"].min() >= 5.0


@pytest.mark.parametrize("seed", range(5))
def test_full_network_is_one_connected_graph(seed):
    paths = road_network(np.random.default_rng(seed), 400, 600, 0.5, angle=0.3)
    graph = nx.Graph()
    for p in paths:
        graph.add_edge(tuple(np.round(p.xy[0], 6)), tuple(np.round(p.xy[-1], 6)))
    assert nx.is_connected(graph)
    assert max(d for _, d in graph.degree) >= 3
    assert {p.kind for p in paths} >= {"primary", "track"}


def test_roads_under_tree_crowns_stay_road(big):
    """As in DeepGlobe, a road hidden by a crown is still road in the mask."""
    hidden = big.occluded
    assert hidden.dtype == bool and hidden.sum() > 50
    assert big.mask[hidden].all()
    red, green, blue = big.image.astype(np.float64)
    open_road = big.mask.astype(bool) & ~hidden
    # hidden pixels look like foliage (green over red), open road does not
    assert (green - red)[hidden].mean() > (green - red)[open_road].mean() + 10


def test_confusers_are_not_road():
    """Rivers and railways are painted but never labelled: road only where roads cross them."""
    found, on_road, total = set(), 0, 0
    for seed in range(4):
        s = generate_scene(256, 256, seed=seed)
        found |= set(s.confusers["kind"])
        line = rasterize(
            [(g, 1) for g in s.confusers.geometry],
            out_shape=s.mask.shape,
            transform=s.transform,
            dtype="uint8",
        ).astype(bool)
        on_road += int(s.mask[line].sum())
        total += int(line.sum())
    assert found == {"river", "railway"}
    assert total > 500 and on_road / total < 0.25


def test_nodata_collar(collar):
    assert collar.nodata == 0
    outside = ~collar.valid
    assert 0.1 < outside.mean() < 0.5
    assert outside[0, 0] and outside[-1, -1] and outside[0, -1] and outside[-1, 0]
    assert (collar.image[:, outside] == 0).all()
    assert (collar.image[:, collar.valid] > 0).all()
    assert (collar.mask[outside] == 0).all() and collar.mask.any()


def test_multiband_uint16(multi):
    assert multi.image.shape == (4, 192, 224) and multi.image.dtype == np.uint16
    assert multi.image.min() >= 1 and multi.image.max() <= DN_MAX_11BIT
    assert multi.band_names == ("blue", "green", "red", "nir")
    blue, green, red, nir = multi.image.astype(np.float64)
    ndvi = (nir - red) / (nir + red)
    road = multi.mask.astype(bool)
    assert ndvi[road].mean() < ndvi[~road].mean() - 0.1  # vegetation is brighter in NIR


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(height=8, width=64),
        dict(height=64, width=64, bands="x"),
        dict(height=64, width=64, res=0.0),
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        generate_scene(**kwargs)
