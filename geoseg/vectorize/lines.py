"""Graph edges → simplified, georeferenced LineStrings with road attributes.

Pixel (row, col) centres map to CRS coordinates through the raster's affine transform:
``x, y = transform * (col + 0.5, row + 0.5)``.  Douglas–Peucker runs in pixel space with
the tolerance converted from metres.  Attributes:

- ``length_m``: planar length × CRS unit factor for projected CRSs, geodesic length on
  the CRS's ellipsoid (pyproj.Geod) for geographic ones; pixels without CRS.
- ``width_m``: median along the line of ``2·d − pixel``, where ``d`` is the distance
  from the skeleton pixel centre to the nearest background pixel centre (a one-pixel
  road has d = 1 pixel and width 1 pixel).
- ``mean_prob``: mean probability at the line's skeleton pixels (only with a
  probability raster).
- ``node_from`` / ``node_to``: integer node ids shared by lines meeting at a node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geoseg.vectorize.graph import RoadGraph
from geoseg.vectorize.params import ellipsoid_kwargs

if TYPE_CHECKING:
    import geopandas

COLUMNS = ["id", "node_from", "node_to", "length_m", "width_m"]
DTYPES = {
    "id": "int64",
    "node_from": "int64",
    "node_to": "int64",
    "length_m": "float64",
    "width_m": "float64",
    "mean_prob": "float64",
}


def empty_roads(crs: Any, with_prob: bool) -> geopandas.GeoDataFrame:
    """An empty roads layer with the full schema and CRS."""
    import geopandas as gpd  # lazy: geopandas takes ~1 s to load
    import pandas as pd  # lazy: heavy, one use

    columns = COLUMNS + (["mean_prob"] if with_prob else [])
    frame = pd.DataFrame({c: pd.Series(dtype=DTYPES[c]) for c in columns})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def lengths_m(geoms: np.ndarray, crs: Any) -> np.ndarray:
    """True lengths in metres of LineStrings in `crs` (geodesic for geographic CRSs)."""
    if crs is None or not crs.is_geographic:
        factor = 1.0
        if crs is not None and crs.linear_units_factor:
            factor = crs.linear_units_factor[1]
        return shapely.length(geoms) * factor
    from pyproj import Geod  # lazy: only for geographic CRSs

    geod = Geod(**ellipsoid_kwargs(crs))
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    same = index[1:] == index[:-1]
    _, _, seg = geod.inv(
        coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same]
    )
    return np.bincount(index[:-1][same], weights=np.abs(seg), minlength=len(geoms))


def graph_to_roads(
    graph: RoadGraph, transform: Any, crs: Any, simplify_px: float
) -> geopandas.GeoDataFrame:
    """The graph's edges as a GeoDataFrame of LineStrings (see the module docstring)."""
    import geopandas as gpd  # lazy: geopandas takes ~1 s to load

    edges = sorted(
        graph.edges.values(),
        key=lambda e: (min(e.u, e.v), max(e.u, e.v), tuple(e.rc[len(e.rc) // 2])),
    )
    edges = [e for e in edges if len(e.rc) >= 2]
    if not edges:
        return empty_roads(crs, graph.with_prob)
    # (row, col) -> (col + 0.5, row + 0.5) pixel space, simplified there
    counts = [len(e.rc) for e in edges]
    lines = shapely.linestrings(
        np.vstack([e.rc[:, ::-1] + 0.5 for e in edges]),
        indices=np.repeat(np.arange(len(edges)), counts),
    )
    if simplify_px > 0:
        lines = shapely.simplify(lines, simplify_px, preserve_topology=False)
    lines = shapely.transform(lines, lambda xy: np.column_stack(transform @ (xy[:, 0], xy[:, 1])))
    keep = ~shapely.is_empty(lines) & shapely.is_valid(lines) & (shapely.length(lines) > 0)
    lines = lines[keep]
    edges = [e for e, k in zip(edges, keep) if k]
    if not edges:
        return empty_roads(crs, graph.with_prob)

    nodes = np.array([(e.u, e.v) for e in edges], dtype=np.int64)
    _, node_ids = np.unique(nodes, return_inverse=True)
    node_ids = node_ids.reshape(-1, 2)
    p = graph.pixel.mean
    widths = []
    for e in edges:
        finite = e.dist[np.isfinite(e.dist)]
        widths.append(float(np.median(2 * finite - p)) if finite.size else np.nan)
    data = {
        "id": np.arange(len(edges), dtype=np.int64),
        "node_from": node_ids[:, 0],
        "node_to": node_ids[:, 1],
        "length_m": lengths_m(lines, crs),
        "width_m": np.maximum(np.array(widths), p),
    }
    if graph.with_prob:
        data["mean_prob"] = np.array([mean_prob(e.prob) for e in edges])
    return gpd.GeoDataFrame(data, geometry=lines, crs=crs)


def mean_prob(prob: np.ndarray | None) -> float:
    """Mean road probability along an edge (NaN where it has none)."""
    if prob is None or not np.isfinite(prob).any():
        return float("nan")
    return float(np.nanmean(prob))
