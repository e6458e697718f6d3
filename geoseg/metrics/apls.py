"""APLS (Average Path Length Similarity, Van Etten et al. 2018, SpaceNet) and junction F1.

Algorithm, for one direction A → B (truth → proposal, then proposal → truth):

1. Both networks become graphs in metres (:mod:`geoseg.metrics.graph`: local UTM for
   geographic CRSs, nodes at endpoints and shared vertices, degree-2 nodes merged).
2. Control points are inserted into A every ``control_spacing_m`` (50 m) along each
   edge: an edge of length L ≥ 0.75·spacing gets ceil(L/spacing) − 1 evenly spaced
   points (its midpoint when L ≤ spacing); shorter edges get none.  A's nodes are now
   its junctions, ends and control points.
3. Every node of A is snapped onto the *bare* graph B (B without its own control
   points): onto the nearest edge if it lies within ``snap_m`` (4 m), splitting that
   edge; nodes farther away are "missing".
4. For node pairs (s, t) of A (all of them, or ``max_nodes`` sampled with a fixed seed)
   with a path in A: L_A = shortest path length in A.  If s is missing, the pair scores
   1; else pairs with L_A < ``min_path_length_m`` are skipped; if t is missing or not
   reachable from s in B the pair scores 1; else min(1, |L_A − L_B| / L_A).
5. C(A→B) = 1 − mean(pair scores); APLS = harmonic mean of C(truth→prop) and
   C(prop→truth) (0 when either is 0).

Empty networks: both empty is no data to score (:class:`NoRoadToScore`, a
:class:`~geoseg.errors.DataError`: APLS is undefined, not 0 or 1); one empty → 0.  A direction with no pair to score (for instance all paths shorter than
``min_path_length_m``) scores 0, as in the reference.

Junction F1: nodes of degree ≥ 3 of both (bare) graphs, matched one-to-one within
``junction_radius_m`` (optimal assignment, Hungarian); precision = matched / proposal
junctions, recall = matched / truth junctions.

Comparison with the CosmiQ reference (``apls/apls.py``, ``make_graphs`` +
``compute_apls_metric``; read, not copied):

* Same: the two directions, control points of A inserted into bare B, nearest-edge
  snapping within 4 m, the per-pair formula with 1 for missing nodes/paths (a missing
  source penalises all its pairs regardless of length), ``min_path_length`` skipping,
  the mean and the harmonic mean, 5 cm coincidence of a snapped point with a node,
  simplification of degree-2 nodes, projection to UTM.
* Control points: the reference's ``create_graph_midpoints`` only adds them to edges
  whose length differs from their bounding-box diagonal by ``is_curved_eps``; its
  command line passes ``is_curved_eps=-1000`` and ``linestring_delta=200`` (so always, but
  every 200 m), its ``make_graphs`` defaults to 0.012 and 50 m.  geoseg always inserts
  them, every 50 m by default (the paper's description).
* Snapped points that coincide with an existing node: the reference renames the node
  (``allow_renaming``), so a second point on the same node steals it and the first one
  becomes "missing"; geoseg lets several points share a node.
* The reference names inserted nodes with the other graph's ids; when those collide
  with the graph's own ids the point is silently skipped.  geoseg keeps a mapping.
* Large graphs: the reference skips control points and samples 500 nodes when the
  truth graph has ≥ 500 nodes (``make_graphs_yuge``); geoseg keeps control points and
  samples ``max_nodes`` of them (seeded) in both directions.
* ``min_path_length``: the reference's function default is 10 m, its command line uses
  0.001 m; geoseg's default is 10 m.
* Lengths: the reference projects with ``utm``/osmnx, geoseg with pyproj through
  geopandas' ``estimate_utm_crs`` — centimetre-level differences at most.

* Duplicated roads (two features with the same vertices): the reference's
  ``create_edge_linestrings`` drops *both* copies from the graphs it processes (the
  proposal, the truth's control-point graph) but not from the truth it snaps into, so
  even identical inputs score below 1; geoseg keeps one copy in every graph.

``benchmarks/metrics.py`` runs both on the same graphs when ``apls`` 0.1.0 is present: on
the SpaceNet Vegas centerlines against six perturbed proposals (warped, lines dropped,
spur, shifted beyond the snapping distance) the scores agree to 4 decimals in both
directions.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import networkx as nx
import numpy as np
import shapely
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from geoseg.errors import DataError
from geoseg.metrics.graph import (
    COINCIDENT_M,
    build_graph,
    edge_line,
    junctions,
    split_edges,
    to_metric_lines,
    total_length,
)

log = logging.getLogger(__name__)


class NoRoadToScore(DataError):
    """Both road networks are empty: APLS is undefined (``geoseg.evaluate.evaluate_pairs``
    records such a pair as undefined and leaves it out of the mean)."""


@dataclass(frozen=True)
class AplsResult:
    """APLS of a proposal against a truth network, with its two halves and junction F1."""

    apls: float
    apls_gt_to_prop: float
    apls_prop_to_gt: float
    junction_f1: float
    junction_precision: float
    junction_recall: float
    n_junctions_truth: int
    n_junctions_prop: int
    n_paths_gt_to_prop: int
    n_paths_prop_to_gt: int
    truth_length_m: float
    prop_length_m: float
    crs: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def insert_control_points(graph: nx.MultiGraph, spacing: float) -> nx.MultiGraph:
    """Copy of `graph` with control points every `spacing` metres along its edges."""
    out = graph.copy()
    cuts = {}
    for u, v, k, d in graph.edges(keys=True, data=True):
        length = d["length"]
        if length < 0.75 * spacing:
            continue
        # the tolerance keeps an edge of exactly k·spacing (give or take float noise
        # from a reprojection) at k segments
        n = max(2, int(np.ceil(length / spacing - 1e-6)))
        cuts[(u, v, k)] = [(length * i / n, (u, v, k, i)) for i in range(1, n)]
    split_edges(out, cuts)
    return out


def snap_nodes(
    points: dict[int, tuple[float, float]],
    graph: nx.MultiGraph,
    max_dist: float,
    renaming: bool = False,
) -> tuple[nx.MultiGraph, dict[int, int]]:
    """Insert `points` (id → xy) into a copy of `graph` on their nearest edge within
    `max_dist`; return the new graph and id → node for the points that snapped.

    `renaming` (the reference's ``allow_renaming``): a point that lands on a node takes
    the node over, so when several do, only the last one (in id order) keeps it and the
    others are missing."""
    out = graph.copy()
    edges = list(graph.edges(keys=True))
    if not edges or not points:
        return out, {}
    # a point on a node of B is that node (not a cut of whichever edge ties nearest)
    node_ids = list(graph.nodes)
    node_tree = cKDTree(np.asarray([graph.nodes[n]["xy"] for n in node_ids], float))
    ids = list(points)
    xy = np.asarray([points[i] for i in ids], float)
    dist, nearest = node_tree.query(xy, distance_upper_bound=COINCIDENT_M)
    mapping = {ids[i]: node_ids[nearest[i]] for i in np.flatnonzero(np.isfinite(dist))}
    rest = np.flatnonzero(~np.isfinite(dist))
    lines = [edge_line(graph, *e) for e in edges]
    geoms = shapely.points(xy[rest])
    (src, dst), _ = shapely.STRtree(lines).query_nearest(
        geoms, max_distance=max_dist, return_distance=True, all_matches=False
    )
    cuts: dict = {}
    for i, j in zip(src, dst):
        cuts.setdefault(edges[j], []).append((lines[j].project(geoms[i]), ids[rest[i]]))
    mapping.update(split_edges(out, cuts))
    if renaming:
        owner = {node: point for point, node in sorted(mapping.items())}  # last one wins
        mapping = {point: node for node, point in owner.items()}
    return out, mapping


def path_score(
    graph_a: nx.MultiGraph,
    graph_b: nx.MultiGraph,
    mapping: dict[int, int],
    nodes: list[int],
    min_path_length: float,
) -> tuple[float, int]:
    """C(A→B) over pairs of `nodes` of A, given where they snapped in B; (score, pairs)."""
    node_set = set(nodes)
    diffs: list[float] = []
    for s in nodes:
        len_a = nx.single_source_dijkstra_path_length(graph_a, s, weight="length")
        targets = [t for t in len_a if t != s and t in node_set]
        if s not in mapping:
            diffs.extend([1.0] * len(targets))
            continue
        len_b = nx.single_source_dijkstra_path_length(graph_b, mapping[s], weight="length")
        for t in targets:
            la = len_a[t]
            if la < min_path_length:
                continue
            lb = len_b.get(mapping.get(t, -1))
            diffs.append(1.0 if lb is None else min(1.0, abs(la - lb) / la))
    if not diffs:
        return 0.0, 0
    return 1.0 - float(np.mean(diffs)), len(diffs)


def _direction(
    a: nx.MultiGraph,
    b: nx.MultiGraph,
    spacing: float,
    snap: float,
    min_path_length: float,
    max_nodes: int,
    rng: np.random.Generator,
    renaming: bool = False,
):
    a_cp = insert_control_points(a, spacing)
    nodes = sorted(a_cp.nodes)
    if len(nodes) > max_nodes:
        nodes = sorted(rng.choice(nodes, max_nodes, replace=False).tolist())
    b_prime, mapping = snap_nodes({n: a_cp.nodes[n]["xy"] for n in nodes}, b, snap, renaming)
    return path_score(a_cp, b_prime, mapping, nodes, min_path_length)


# What ``reference=True`` changes: the CosmiQ reference's command-line behaviour.
REFERENCE_MIN_PATH_LENGTH_M = 0.001


def drop_loops(graph: nx.MultiGraph) -> nx.MultiGraph:
    """Copy of `graph` without loop roads (edges that start and end at the same node),
    which the reference leaves out."""
    out = graph.copy()
    out.remove_edges_from(list(nx.selfloop_edges(out, keys=True)))
    out.remove_nodes_from(
        [n for n in list(out.nodes) if out.degree(n) == 0 and graph.degree(n) > 0]
    )
    return out


def junction_scores(
    truth: nx.MultiGraph, prop: nx.MultiGraph, radius: float
) -> tuple[float, float, float, int, int]:
    """(f1, precision, recall, n_truth, n_prop) of junctions matched within `radius`."""
    jt, jp = junctions(truth), junctions(prop)
    matched = 0
    if len(jt) and len(jp):
        d = cdist(jt, jp)
        rows, cols = linear_sum_assignment(np.where(d <= radius, d, 1e9))
        matched = int(np.count_nonzero(d[rows, cols] <= radius))
    precision = matched / len(jp) if len(jp) else 1.0
    recall = matched / len(jt) if len(jt) else 1.0
    den = 2 * matched + (len(jp) - matched) + (len(jt) - matched)
    f1 = 2 * matched / den if den else 1.0
    return f1, precision, recall, len(jt), len(jp)


def apls(
    truth,
    proposal,
    *,
    crs=None,
    control_spacing_m: float = 50.0,
    snap_m: float = 4.0,
    min_path_length_m: float = 10.0,
    max_nodes: int = 500,
    junction_radius_m: float = 5.0,
    node_crossings: bool = False,
    seed: int = 0,
    reference: bool = False,
) -> AplsResult:
    """APLS and junction F1 of `proposal` against `truth` (see the module doc).

    `truth`/`proposal`: GeoDataFrames/GeoSeries of (Multi)LineStrings, or lists of
    shapely lines in `crs` (None: coordinates are metres).  Lengths are metres: a
    geographic CRS is projected to its local UTM zone.

    `reference`: the CosmiQ reference's parameters instead of geoseg's — loop roads
    dropped, a 0.001 m minimum path length (instead of `min_path_length_m`) and node
    renaming when snapped points land on a node (``geoseg evaluate --apls-reference``).
    """
    t_lines, p_lines, work = to_metric_lines(truth, proposal, crs)
    g_t = build_graph(t_lines, node_crossings=node_crossings)
    g_p = build_graph(p_lines, node_crossings=node_crossings)
    if reference:
        g_t, g_p = drop_loops(g_t), drop_loops(g_p)
        min_path_length_m = REFERENCE_MIN_PATH_LENGTH_M
    jf1, jp, jr, njt, njp = junction_scores(g_t, g_p, junction_radius_m)
    lt, lp = total_length(g_t), total_length(g_p)
    crs_name = work.to_string() if work is not None else None
    if lt == 0 and lp == 0:
        raise NoRoadToScore("both road networks are empty: no road to score")
    if lt == 0 or lp == 0:
        return AplsResult(0.0, 0.0, 0.0, jf1, jp, jr, njt, njp, 0, 0, lt, lp, crs_name)
    rng = np.random.default_rng(seed)
    args = (control_spacing_m, snap_m, min_path_length_m, max_nodes, rng, reference)
    c_tp, n_tp = _direction(g_t, g_p, *args)
    c_pt, n_pt = _direction(g_p, g_t, *args)
    total = 2 * c_tp * c_pt / (c_tp + c_pt) if c_tp > 0 and c_pt > 0 else 0.0
    log.debug(
        "APLS %.4f (truth→prop %.4f over %d paths, prop→truth %.4f over %d)",
        total,
        c_tp,
        n_tp,
        c_pt,
        n_pt,
    )
    return AplsResult(total, c_tp, c_pt, jf1, jp, jr, njt, njp, n_tp, n_pt, lt, lp, crs_name)
