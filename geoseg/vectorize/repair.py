"""Topology repairs on the whole road graph, after the blocks are joined.

Prune short dead-end spurs, trim thinning hooks at dead ends, carry dead ends that stop
just short of the scene edge to the edge, bridge small gaps between dead ends that
point at each other, and keep one line where two run over the same road.  Each works on the scene-wide :class:`RoadGraph`, so a spur or a
gap that straddles a block seam is treated like any other.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely
from scipy.spatial import cKDTree

from geoseg.vectorize.graph import RoadGraph


def prune_spurs(graph: RoadGraph, max_m: float, rounds: int = 3) -> None:
    """Remove dead-end spurs, isolated bits and tiny loops shorter than `max_m` metres.

    All spurs of a round are chosen before any is removed, so both prongs of the fork
    that a skeleton leaves at a wide road's end go together and the road ends straight.
    """
    if max_m <= 0:
        return
    for _ in range(rounds):
        doomed = []
        for eid, e in graph.edges.items():
            if e.length >= max_m:
                continue
            du, dv = graph.degree(e.u), graph.degree(e.v)
            # a tiny loop (unfilled hole), a spur off a junction, or an isolated bit
            if e.u == e.v or (min(du, dv) == 1 and max(du, dv) != 2):
                doomed.append(eid)
        if not doomed:
            return
        touched: set[int] = set()
        for eid in doomed:
            e = graph.remove(eid)
            touched.update((e.u, e.v))
        graph.merge_degree2(touched)


def trim_dead_ends(graph: RoadGraph) -> None:
    """Cut the thinning artefacts off dead ends.

    Near a road's end the skeleton runs into the end cap, where the distance to the
    background falls below the road's half width and thinning leaves a one- or
    two-pixel hook.  The tail whose distance is clearly below the edge's median (at most
    a half width long) is dropped, so the line ends straight.
    """
    p = graph.pixel.mean
    for node in [n for n, inc in graph.incident.items() if len(inc) == 1]:
        eid = graph.incident[node][0]
        edge = graph.edges[eid]
        if edge.u == edge.v or len(edge.rc) < 4:
            continue
        run = edge.oriented(node)
        level = run.half_width() - 0.75 * p
        limit = min(int(level / p) + 2, len(run.rc) - 2)
        cut = 0
        while cut < limit and run.dist[cut] < level:
            cut += 1
        if cut == 0:
            continue
        graph.remove(eid)
        prob = None if run.prob is None else run.prob[cut:]
        graph.add(node, run.v, run.rc[cut:], run.dist[cut:], prob)
        graph.moved[node] = run.rc[cut].copy()


def extend_to_border(graph: RoadGraph, slack_px: float = 2.0) -> None:
    """Extend dead ends that stop short of the scene edge to the edge itself.

    A road leaving the scene is cut there, and its skeleton stops about half a road width
    before the edge.  A dead end closer to the edge than its half width + `slack_px` is
    carried on along its own direction (or straight across when that meets the edge far
    away) to the raster boundary, so roads of neighbouring scenes meet.
    """
    h, w = graph.shape
    lo, hi = np.array([-0.5, -0.5]), np.array([h - 0.5, w - 0.5])
    p = graph.pixel
    for node in [n for n, inc in graph.incident.items() if len(inc) == 1]:
        eid = graph.incident[node][0]
        edge = graph.edges[eid].oriented(node)
        pos = graph.position(node)
        reach = float(edge.dist[0]) / p.mean + slack_px if edge.dist.size else slack_px
        gaps = np.concatenate([pos - lo, hi - pos])  # to top, left, bottom, right edges
        if gaps.min() > reach + 0.5:
            continue
        direction = graph.end_direction(node, eid, look_m=max(3 * reach * p.mean, 3 * p.mean))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(
                direction > 0,
                (hi - pos) / direction,
                np.where(direction < 0, (lo - pos) / direction, np.inf),
            )
        t_hit = float(t.min()) if np.isfinite(t).any() else np.inf
        if t_hit <= 2 * reach + 1:
            target = pos + t_hit * direction
        else:  # straight across to the nearest edge
            side = int(gaps.argmin())
            target = pos.copy()
            target[side % 2] = lo[side % 2] if side < 2 else hi[side % 2]
        target = np.clip(target, lo, hi)
        graph.attach(eid, node, target)
        graph.moved[node] = target


def bridge_gaps(graph: RoadGraph, max_m: float, angle_deg: float = 35.0) -> None:
    """Join dead ends whose roads are less than `max_m` metres apart and aligned.

    The gap is measured between road ends: skeleton ends stop about half a road width
    short of the road's end, so each end's half width is taken off.  Two ends are
    bridged when the straight gap between them deviates from each end's
    own direction by at most `angle_deg`; closest pairs first, each end at most once.
    """
    ends = [n for n, inc in graph.incident.items() if len(inc) == 1]
    if max_m <= 0 or len(ends) < 2:
        return

    scale = np.array([graph.pixel.y, graph.pixel.x])
    where = np.array([graph.position(n) for n in ends]) * scale
    half = np.array([graph.edges[graph.incident[n][0]].half_width() for n in ends])
    pairs = cKDTree(where).query_pairs(max_m + 2 * half.max(), output_type="ndarray")
    if pairs.size == 0:
        return
    gap = np.hypot(*(where[pairs[:, 0]] - where[pairs[:, 1]]).T)
    cos_min = np.cos(np.radians(angle_deg))
    look = max(max_m / 2, 5 * graph.pixel.mean)
    used: set[int] = set()
    bridged: list[int] = []
    for k in np.argsort(gap, kind="stable"):
        i, j = (int(x) for x in pairs[k])
        a, b = ends[i], ends[j]
        if a in used or b in used or gap[k] == 0 or gap[k] - half[i] - half[j] > max_m:
            continue
        ea, eb = graph.incident[a][0], graph.incident[b][0]
        if ea == eb and graph.edges[ea].length < 3 * gap[k]:
            continue  # the two ends of one short piece: not a gap in a road
        towards = (where[j] - where[i]) / gap[k]
        if (
            graph.end_direction(a, ea, look, scale) @ towards < cos_min
            or graph.end_direction(b, eb, look, scale) @ -towards < cos_min
        ):
            continue
        ra, rb = graph.edges[ea].oriented(a), graph.edges[eb].oriented(b)
        prob = None if ra.prob is None or rb.prob is None else np.array([ra.prob[0], rb.prob[0]])
        graph.add(
            a,
            b,
            np.vstack([graph.position(a), graph.position(b)]),
            np.array([ra.dist[0], rb.dist[0]]),
            prob,
        )
        used.update((a, b))
        bridged.extend((a, b))
    graph.merge_degree2(bridged)


def _metres(graph: RoadGraph, rc: np.ndarray) -> np.ndarray:
    return rc * np.array([graph.pixel.y, graph.pixel.x])


def _separation(graph: RoadGraph, a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance (metres) between two pixel chains, each way, the larger of the two."""
    la, lb = (shapely.linestrings(_metres(graph, rc)) for rc in (a, b))
    pa, pb = (shapely.points(_metres(graph, rc)) for rc in (a, b))
    return max(float(shapely.distance(lb, pa).mean()), float(shapely.distance(la, pb).mean()))


def _loop_width(graph: RoadGraph, rc: np.ndarray) -> float:
    """Mean width (metres) of the ground a closed chain encloses: 2·area / perimeter."""
    xy = _metres(graph, rc)
    if len(xy) < 4:
        return 0.0
    ring = shapely.make_valid(shapely.Polygon(xy))
    perimeter = float(np.hypot(*np.diff(xy, axis=0).T).sum())
    return 2 * float(ring.area) / perimeter if perimeter > 0 else 0.0


def drop_duplicates(graph: RoadGraph, rounds: int = 3) -> None:
    """Keep one line where two run over the same road: no two lines share ground.

    Two edges joining the same pair of nodes (left by junction contraction, or by a
    bridge closing a gap between two arms of one fork) are the same road when they run
    closer together than their half widths summed — their road buffers would overlap;
    the most central one (largest distance to the background) stays.  Two carriageways
    around a real island are farther apart than that and both stay.  A loop narrower
    than its road (out and back over the same ground) becomes a spur to its far point.
    """
    for _ in range(rounds):
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for eid, e in graph.edges.items():
            groups[(min(e.u, e.v), max(e.u, e.v))].append(eid)
        touched: set[int] = set()
        for (u, v), eids in groups.items():
            if u == v:
                for eid in eids:
                    e = graph.edges[eid]
                    if _loop_width(graph, e.rc) < 2 * e.half_width():
                        _loop_to_spur(graph, eid)
                        touched.add(u)
                continue
            if len(eids) < 2:
                continue
            order = sorted(
                eids, key=lambda k: (-graph.edges[k].half_width(), graph.edges[k].length, k)
            )
            kept: list[int] = []
            for eid in order:
                e = graph.edges[eid].oriented(u)
                if any(
                    _separation(graph, e.rc, graph.edges[k].oriented(u).rc)
                    < e.half_width() + graph.edges[k].half_width()
                    for k in kept
                ):
                    graph.remove(eid)
                    touched.update((u, v))
                else:
                    kept.append(eid)
        if not touched:
            return
        graph.merge_degree2([n for n in touched if n in graph.incident])


def _loop_to_spur(graph: RoadGraph, eid: int) -> None:
    """Replace a self-loop by the part of it from its node out to its farthest point."""
    e = graph.remove(eid)
    xy = _metres(graph, e.rc)
    far = int(np.argmax(np.hypot(*(xy - xy[0]).T)))
    if far < 1:
        return
    end = e.rc[far]
    node = int(round(end[0])) * graph.shape[1] + int(round(end[1]))
    if node in graph.incident:  # that pixel is a node already: do not fuse with it
        return
    prob = None if e.prob is None else e.prob[: far + 1]
    graph.add(e.u, node, e.rc[: far + 1], e.dist[: far + 1], prob)
