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
import shapely

from geoseg.io.grid import (
    QGIS_PIXEL_SPACE,
    Raster,
    display_transform,
    open_grid,
    settle_rule,
)
from geoseg.io.vector import check_vector_crs, driver_for, write_roads
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
from geoseg.vectorize.source import open_prob, open_road_mask

if TYPE_CHECKING:
    import geopandas

log = logging.getLogger(__name__)

# the no-CRS rule: lengths and widths in pixels are never labelled metres
PIXEL_COLUMNS = {"length_m": "length_px", "width_m": "width_px"}


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

    `mask` is a raster path (nodata allowed) or a 2-D array with `transform`/`crs` (and
    optionally `nodata`); road pixels follow the one road-mask rule
    (:class:`geoseg.io.grid.RoadRule`: equal-band masks, 0/1 and 0/max as they are, soft
    masks at half their maximum).  `prob` is an optional probability raster on the same
    grid (uint8 0–255 or float 0–1) used for ``mean_prob``.  Lengths, areas and
    tolerances are in metres; None picks a default from the pixel size (see
    :mod:`geoseg.vectorize.params`).  Large masks are processed in `block_size` blocks
    with `halo` pixels of context.  Columns: id, node_from, node_to, length_m, width_m
    (+ mean_prob).

    Without a CRS (the no-CRS rule, :func:`geoseg.io.grid.display_transform`) a warning
    is logged, lines lie where QGIS draws the image (x = column, y = -row for a raster
    without geotransform: a pixel centre (r, c) is (c + 0.5, -(r + 0.5))), the columns
    are ``length_px``/``width_px`` and the layer claims no CRS.
    """
    with contextlib.ExitStack() as stack:
        # no upfront scan of the mask: its rule is checked on the blocks as they are read
        msrc = stack.enter_context(open_road_mask(mask, transform, crs, nodata, scan=False))
        psrc = stack.enter_context(open_prob(prob, msrc)) if prob is not None else None
        grid = msrc.raster
        if grid.crs is None:
            log.warning(
                "%s: mask has no CRS; lines are in pixel coordinates (x = column, y = -row, "
                "where QGIS draws the image), lengths and widths in pixels (length_px, "
                "width_px) and metre parameters are read as pixels",
                msrc.name,
            )
        pixel = pixel_size_m(grid.transform, grid.crs, grid.shape)
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
        if not settle_rule(msrc):  # a soft mask: road at half its maximum, read it again
            graph = build_graph(msrc, psrc, params, pixel, progress)
    refine(graph, params)
    simplify_px = params.simplify_m / pixel.mean
    if grid.crs is not None:
        return graph_to_roads(graph, grid.transform, grid.crs, simplify_px)
    return pixel_roads(graph_to_roads(graph, QGIS_PIXEL_SPACE, None, simplify_px), grid)


def pixel_roads(roads: geopandas.GeoDataFrame, grid: Raster) -> geopandas.GeoDataFrame:
    """The no-CRS rule for lines built in QGIS's pixel space (lengths there are pixels):
    columns ``length_px``/``width_px``; coordinates moved by the raster's own transform
    when it has one (:func:`geoseg.io.grid.display_transform`); no CRS."""
    roads = roads.rename(columns=PIXEL_COLUMNS)
    place = display_transform(grid)
    if place != QGIS_PIXEL_SPACE and len(roads):
        move = place * ~QGIS_PIXEL_SPACE
        geoms = shapely.transform(
            roads.geometry.values, lambda xy: np.column_stack(move @ (xy[:, 0], xy[:, 1]))
        )
        roads = roads.set_geometry(geoms)
    return roads


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

    driver_for(Path(output))
    if isinstance(mask, (str, Path)):  # refuse GeoJSON for lines without a CRS up front
        check_vector_crs(output, open_grid(mask, what="file", warn_no_crs=False).crs)
    elif options.get("crs") is None:
        check_vector_crs(output, None)
    roads = vectorize_mask(mask, prob, **options)
    write_roads(roads, output, style=style)
    return roads
