"""Road graphs in metres from centerlines, and splitting their edges at points.

A road network given as LineStrings becomes an undirected :class:`networkx.MultiGraph`:
nodes at line endpoints and at vertices shared by two or more lines (or visited twice by
one line), edges along the lines between them with their ``geometry`` (a LineString; its first
node is the edge's ``start`` attribute, :func:`edge_line` orients it) and ``length`` in
metres; duplicated pieces of road are kept once; degree-2 nodes are merged away (a road cut into two features is one edge), as
osmnx's ``simplify_graph`` does for the SpaceNet reference.  Lines that cross without a
shared vertex (bridges, overpasses) do not meet, unless ``node_crossings=True``.

Geographic coordinates are projected to a local UTM zone first
(:func:`to_metric_lines`), so lengths are metres whatever the input CRS.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

import networkx as nx
import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import LineString, MultiLineString
from shapely.ops import substring

from geoseg.errors import DataError

Label = TypeVar("Label", bound=Hashable)  # what a cut point is called (split_edges)

log = logging.getLogger(__name__)

COINCIDENT_M = 0.05  # points closer than this to a node are that node (reference: 5 cm)


def is_metric_crs(crs: CRS) -> bool:
    """True for a projected CRS whose axes are in metres."""
    return crs.is_projected and all(
        (a.unit_name or "").lower() in ("metre", "meter", "m") for a in crs.axis_info[:2]
    )


def _lines_of(data, crs) -> tuple[list[LineString], CRS | None]:
    """LineStrings and CRS of a GeoDataFrame/GeoSeries or a sequence of geometries."""
    import geopandas as gpd  # lazy: geopandas takes ~1 s to load

    if isinstance(data, (gpd.GeoDataFrame, gpd.GeoSeries)):
        geoms = data.geometry if isinstance(data, gpd.GeoDataFrame) else data
        data_crs = geoms.crs or (CRS.from_user_input(crs) if crs is not None else None)
        geoms = list(geoms.values)
    else:
        geoms, data_crs = list(data), CRS.from_user_input(crs) if crs is not None else None
    lines: list[LineString] = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        if isinstance(g, LineString):
            lines.append(g)
        elif isinstance(g, MultiLineString):
            lines.extend(g.geoms)
        else:
            raise DataError(f"road networks must be LineStrings, found a {g.geom_type}")
    return lines, data_crs


def to_metric_lines(
    truth, proposal, crs=None
) -> tuple[list[LineString], list[LineString], CRS | None]:
    """Both networks as LineStrings in one metric CRS (local UTM for geographic input).

    `crs` is the CRS of inputs that carry none (lists of geometries); with no CRS at all
    the coordinates are taken to be metres already.
    """
    import geopandas as gpd  # lazy: geopandas takes ~1 s to load

    t_lines, t_crs = _lines_of(truth, crs)
    p_lines, p_crs = _lines_of(proposal, crs)
    if t_crs is None and p_crs is None:
        return t_lines, p_lines, None
    if t_crs is None or p_crs is None:
        raise DataError("one road network has a CRS and the other has none")
    work = t_crs
    if not is_metric_crs(t_crs):
        sample, sample_crs = (t_lines, t_crs) if t_lines else (p_lines, p_crs)
        if not sample:
            return t_lines, p_lines, t_crs
        work = gpd.GeoSeries(sample, crs=sample_crs).to_crs("EPSG:4326").estimate_utm_crs()

    def project(lines, src):
        if not lines or src == work:
            return lines
        return list(gpd.GeoSeries(lines, crs=src).to_crs(work).values)

    return project(t_lines, t_crs), project(p_lines, p_crs), work


def _key(xy: Sequence[float], precision: float) -> tuple[int, int]:
    return int(round(xy[0] / precision)), int(round(xy[1] / precision))


def build_graph(
    lines: Iterable[LineString],
    *,
    node_crossings: bool = False,
    precision: float = 1e-3,
    simplify: bool = True,
) -> nx.MultiGraph:
    """Graph of a road network given as LineStrings in metres (see the module doc)."""
    lines = [part for ln in lines for part in shapely.get_parts(ln) if part.length > 0]
    if node_crossings and lines:
        noded = shapely.node(MultiLineString(lines))
        lines = [g for g in noded.geoms if g.length > 0]
    # a vertex seen twice (in two lines, or twice in one: a loop) is a node
    count: dict[tuple[int, int], int] = defaultdict(int)
    coords = [np.asarray(ln.coords)[:, :2] for ln in lines]
    for xy in coords:
        for p in xy:
            count[_key(p, precision)] += 1
    graph = nx.MultiGraph()
    ids: dict[tuple[int, int], int] = {}

    def node(p) -> int:
        k = _key(p, precision)
        if k not in ids:
            ids[k] = len(ids)
            graph.add_node(ids[k], xy=(float(p[0]), float(p[1])))
        return ids[k]

    seen: set[bytes] = set()  # duplicated roads (same vertices, either direction) count once
    for xy in coords:
        start = 0
        for i in range(1, len(xy)):
            if i == len(xy) - 1 or count[_key(xy[i], precision)] > 1:
                piece = xy[start : i + 1]
                start = i
                line = LineString(piece)
                key = shapely.normalize(shapely.set_precision(line, precision)).wkb
                if key not in seen:
                    seen.add(key)
                    add_edge(graph, node(piece[0]), node(piece[-1]), line)
    if simplify:
        merge_degree_two(graph)
    return graph


def add_edge(graph: nx.MultiGraph, u: int, v: int, line: LineString) -> None:
    """Add edge u–v whose geometry runs from u to v; zero-length pieces are dropped."""
    if line.length > 0:
        graph.add_edge(u, v, geometry=line, length=float(line.length), start=u)


def edge_line(graph: nx.MultiGraph, u: int, v: int, k: int) -> LineString:
    """Geometry of edge (u, v, k) oriented from u to v."""
    data = graph.edges[u, v, k]
    line = data["geometry"]
    return line if data["start"] == u else line.reverse()


def merge_degree_two(graph: nx.MultiGraph) -> None:
    """Merge edges through nodes of degree 2 (not loops) into single edges, in place."""
    for n in list(graph.nodes):
        if graph.degree(n) != 2 or graph.has_edge(n, n):
            continue
        (_, a, ka), (_, b, kb) = graph.edges(n, keys=True)
        if a == b and ka == kb:
            continue
        first = edge_line(graph, a, n, ka)
        second = edge_line(graph, n, b, kb)
        merged = LineString(list(first.coords) + list(second.coords)[1:])
        graph.remove_node(n)
        add_edge(graph, a, b, merged)


def split_edges(
    graph: nx.MultiGraph,
    cuts: Mapping[tuple[int, int, int], Sequence[tuple[float, Label]]],
) -> dict[Label, int]:
    """Split edges at distances along them; return label → node for each cut point.

    ``cuts[(u, v, k)]`` lists ``(distance from u, label)``.  Points within
    :data:`COINCIDENT_M` of an end node, or of each other, share that node.  New nodes
    get fresh integer ids and an ``xy`` attribute.  Modifies `graph` in place.
    """
    labels: dict[Label, int] = {}
    next_id = max(graph.nodes, default=-1) + 1
    for (u, v, k), points in cuts.items():
        line = edge_line(graph, u, v, k)
        length = line.length
        chain: list[tuple[float, int]] = [(0.0, u)]
        for dist, label in sorted(points, key=lambda p: p[0]):
            if dist <= COINCIDENT_M:
                labels[label] = u
            elif dist >= length - COINCIDENT_M:
                labels[label] = v
            elif dist - chain[-1][0] <= COINCIDENT_M:
                labels[label] = chain[-1][1]
            else:
                p = line.interpolate(dist)
                graph.add_node(next_id, xy=(p.x, p.y))
                chain.append((dist, next_id))
                labels[label] = next_id
                next_id += 1
        if len(chain) == 1:
            continue
        chain.append((length, v))
        graph.remove_edge(u, v, k)
        for (d0, n0), (d1, n1) in zip(chain, chain[1:]):
            add_edge(graph, n0, n1, substring(line, d0, d1))
    return labels


def junctions(graph: nx.MultiGraph) -> np.ndarray:
    """(N, 2) coordinates of nodes where three or more road ends meet."""
    pts = [graph.nodes[n]["xy"] for n in graph.nodes if graph.degree(n) >= 3]
    return np.asarray(pts, float).reshape(-1, 2)


def total_length(graph: nx.MultiGraph) -> float:
    return float(sum(d["length"] for *_, d in graph.edges(data=True)))
