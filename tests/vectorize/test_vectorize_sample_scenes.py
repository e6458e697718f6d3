"""geoseg's own sample scenes (geoseg.sample_data): the ground-truth mask vectorizes back
to the ground-truth centrelines (skips until that package is present)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoseg.vectorize import vectorize_mask


def _clip(frame: gpd.GeoDataFrame, box) -> gpd.GeoDataFrame:
    parts = gpd.GeoDataFrame(geometry=frame.geometry.intersection(box), crs=frame.crs)
    parts = parts.explode(ignore_index=True)
    return parts[~parts.is_empty & (parts.geom_type == "LineString")]


def _mean_offset(a, b, step: float) -> float:
    pts = [ln.interpolate(d) for ln in shapely.get_parts(a) for d in np.arange(0, ln.length, step)]
    return float(shapely.distance(np.array(pts), b).mean())


@pytest.mark.parametrize("seed", [1, 3])
def test_ground_truth_mask_gives_ground_truth_network(seed):
    sample_data = pytest.importorskip("geoseg.sample_data")
    scene = sample_data.generate_scene(448, 448, seed=seed)
    roads = vectorize_mask(
        scene.mask, transform=scene.transform, crs=scene.crs, block_size=200, progress=False
    )
    assert roads.crs == scene.roads.crs and len(roads) > 0
    h, w = scene.mask.shape
    (x0, y1), (x1, y0) = scene.transform @ (0, 0), scene.transform @ (w, h)
    truth = _clip(scene.roads, shapely.box(x0, y0, x1, y1))
    t_all = shapely.union_all(truth.geometry.values)
    f_all = shapely.union_all(roads.geometry.values)
    res = scene.res

    assert _mean_offset(f_all, t_all, res) < 2 * res and _mean_offset(t_all, f_all, res) < 2 * res
    recall = t_all.intersection(f_all.buffer(4 * res)).length / t_all.length
    precision = f_all.intersection(t_all.buffer(4 * res)).length / f_all.length
    assert recall >= 0.9 and precision >= 0.9

    # widths: each line's width_m near the width of the truth road it follows
    widths = _truth_widths(scene.roads, roads)
    assert np.median(np.abs(roads.width_m.to_numpy() - widths) / widths) < 0.25

    # topology (APLS).  At the scene edge a clipped truth loses junctions that lie just
    # outside while the mask's roads already touch: score the interior (40 m in).
    apls = pytest.importorskip("geoseg.metrics.apls")
    inner = shapely.box(x0 + 40, y0 + 40, x1 - 40, y1 - 40)
    assert apls.apls(_clip(scene.roads, inner), _clip(roads, inner)).apls >= 0.95


def _truth_widths(truth: gpd.GeoDataFrame, roads: gpd.GeoDataFrame) -> np.ndarray:
    nearest = shapely.STRtree(truth.geometry.values).query_nearest(
        roads.geometry.values, all_matches=False
    )[1]
    return truth.width_m.to_numpy()[nearest]
