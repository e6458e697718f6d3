"""`vectorize_mask`: a road mask (and optional probabilities) → centreline GeoDataFrame.

Pipeline: remove small blobs / fill small holes → skeletonize → skeleton graph (skan),
block by block → merge through degree-2 nodes (joins seams) → collapse junction
clusters → prune short spurs → trim end hooks → extend dead ends to the scene edge →
bridge aligned gaps → one line where two run over the same road → Douglas–Peucker →
CRS coordinates and attributes.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geoseg.vectorize.blocks import build_graph
from geoseg.vectorize.graph import RoadGraph
from geoseg.vectorize.lines import graph_to_roads
from geoseg.vectorize.params import VectorizeParams, pixel_size_m
from geoseg.vectorize.repair import (
    bridge_gaps,
    drop_duplicates,
    extend_to_border,
    prune_spurs,
    trim_dead_ends,
)
from geoseg.vectorize.source import check_same_grid, open_grid

if TYPE_CHECKING:
    import geopandas

log = logging.getLogger(__name__)


def refine(graph: RoadGraph, params: VectorizeParams) -> None:
    """Topology repairs on the raw skeleton graph, in place."""
    graph.merge_degree2()
    graph.canonicalize()
    graph.contract_junctions()
    graph.merge_degree2()
    prune_spurs(graph, params.prune_m)
    graph.contract_junctions()
    graph.merge_degree2()
    trim_dead_ends(graph)
    extend_to_border(graph)
    bridge_gaps(graph, params.bridge_m, params.bridge_angle_deg)
    drop_duplicates(graph)


def vectorize_mask(
    mask: str | Path | np.ndarray,
    prob: str | Path | np.ndarray | None = None,
    *,
    transform: Any = None,
    crs: Any = None,
    min_area_m2: float | None = None,
    hole_area_m2: float | None = None,
    prune_m: float | None = None,
    bridge_m: float | None = None,
    simplify_m: float | None = None,
    block_size: int = 4096,
    halo: int = 128,
    bridge_angle_deg: float = 35.0,
    nodata: float | None = None,
    progress: bool = True,
) -> geopandas.GeoDataFrame:
    """Road centrelines of a mask as a GeoDataFrame of LineStrings in the mask's CRS.

    `mask` is a raster path (one band, 0/1 or 0/255, nodata allowed) or a 2-D array with
    `transform`/`crs` (and optionally `nodata`); `prob` is an optional probability raster
    on the same grid (uint8 0–255 or float 0–1) used for ``mean_prob``.  Lengths, areas
    and tolerances are in metres; None picks a default from the pixel size (see
    :mod:`geoseg.vectorize.params`).  Large masks are processed in `block_size` blocks
    with `halo` pixels of context.  Columns: id, node_from, node_to, length_m, width_m
    (+ mean_prob).  Without a CRS a warning is logged and coordinates are pixels.
    """
    with contextlib.ExitStack() as stack:
        msrc = stack.enter_context(open_grid(mask, "road mask", transform, crs, nodata))
        psrc = None
        if prob is not None:
            psrc = stack.enter_context(
                open_grid(prob, "probability raster", msrc.transform, msrc.crs)
            )
            check_same_grid(msrc, psrc)
        if msrc.crs is None:
            log.warning(
                "%s: mask has no CRS; lines are in pixel coordinates and "
                "metre parameters are read as pixels",
                msrc.name,
            )
            from affine import Affine

            msrc.transform = Affine.identity()
        pixel = pixel_size_m(msrc.transform, msrc.crs, msrc.shape)
        params = VectorizeParams.resolve(
            pixel,
            min_area_m2=min_area_m2,
            hole_area_m2=hole_area_m2,
            prune_m=prune_m,
            bridge_m=bridge_m,
            simplify_m=simplify_m,
            block_size=block_size,
            halo=halo,
            bridge_angle_deg=bridge_angle_deg,
        )
        log.debug("vectorize %s with %s (pixel %.3g m)", msrc.name, params, pixel.mean)
        graph = build_graph(msrc, psrc, params, pixel, progress)
    refine(graph, params)
    return graph_to_roads(graph, msrc.transform, msrc.crs, params.simplify_m / pixel.mean)


def vectorize_to_file(
    mask: str | Path | np.ndarray,
    output: str | Path,
    prob: str | Path | np.ndarray | None = None,
    *,
    style: bool = True,
    **options: Any,
) -> geopandas.GeoDataFrame:
    """:func:`vectorize_mask` then :func:`geoseg.io.vector.write_roads` (.gpkg/.shp/.geojson).

    The format is checked before the work starts.  Returns the roads GeoDataFrame.
    """
    from geoseg.io.vector import driver_for, write_roads

    driver_for(Path(output))
    roads = vectorize_mask(mask, prob, **options)
    write_roads(roads, output, style=style)
    return roads
