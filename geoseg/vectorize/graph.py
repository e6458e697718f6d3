"""Road graph: skeleton paths (from skan) as edges between pixel nodes.

A node is keyed by its pixel's raveled index in the *scene* (row × width + col), so
blocks that see the same pixel share the node without any bookkeeping.  An edge keeps
its pixel chain (row, col), the distance to background at each pixel (metres, for
widths) and, when given, the probability at each pixel.

Block seams: a block runs skan on its core plus a 3-pixel ring (whose skeleton is the
scene's skeleton thanks to the halo).  Every link between two neighbouring skeleton
pixels is *owned* by the block whose core holds the link's lower-index pixel, and a block
only keeps the links it owns, cut at ring pixels.  The union over blocks is then exactly
the scene's skeleton graph, with extra degree-2 nodes where it crossed a seam; merging
through degree-2 nodes makes a road crossing a seam one line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from geoseg.vectorize.params import PixelSize

RING = 3  # pixels of context around a block core given to skan (junction clusters fit)


@dataclass
class Edge:
    """One skeleton path: pixel chain from node `u` to node `v`."""

    u: int
    v: int
    rc: np.ndarray  # (n, 2) float64 pixel (row, col) of each vertex
    dist: np.ndarray  # (n,) distance to background in metres (half road width)
    prob: np.ndarray | None  # (n,) probability, NaN where unknown
    length: float  # metres

    def half_width(self) -> float:
        """Median distance to background along the edge (metres; 0 when unknown)."""
        finite = self.dist[np.isfinite(self.dist)]
        return float(np.median(finite)) if finite.size else 0.0

    def oriented(self, start: int) -> Edge:
        """This edge running from node `start` (reversed if needed)."""
        if self.u == start:
            return self
        prob = None if self.prob is None else self.prob[::-1]
        return Edge(self.v, self.u, self.rc[::-1], self.dist[::-1], prob, self.length)


def chain_length(rc: np.ndarray, pixel: PixelSize) -> float:
    """Length in metres of a (row, col) polyline."""
    if len(rc) < 2:
        return 0.0
    steps = np.diff(rc, axis=0)
    return float(np.hypot(steps[:, 0] * pixel.y, steps[:, 1] * pixel.x).sum())


class RoadGraph:
    """A multigraph of pixel-chain edges (self-loops and parallel edges allowed)."""

    def __init__(self, shape: tuple[int, int], pixel: PixelSize, with_prob: bool) -> None:
        self.shape = shape
        self.pixel = pixel
        self.with_prob = with_prob
        self.edges: dict[int, Edge] = {}
        self.incident: dict[int, list[int]] = defaultdict(list)  # self-loops listed twice
        self.moved: dict[int, np.ndarray] = {}  # node -> (row, col) when not its own pixel
        self._next_id = 0

    # -- basic bookkeeping -------------------------------------------------------------
    def add(self, u: int, v: int, rc: np.ndarray, dist: np.ndarray,
            prob: np.ndarray | None, length: float | None = None) -> int:
        eid = self._next_id
        self._next_id += 1
        if length is None:
            length = chain_length(rc, self.pixel)
        self.edges[eid] = Edge(u, v, rc, dist, prob, length)
        self.incident[u].append(eid)
        self.incident[v].append(eid)
        return eid

    def remove(self, eid: int) -> Edge:
        edge = self.edges.pop(eid)
        for node in (edge.u, edge.v):
            inc = self.incident[node]
            inc.remove(eid)
            if not inc:
                del self.incident[node]
                self.moved.pop(node, None)
        return edge

    def degree(self, node: int) -> int:
        inc = self.incident.get(node)
        return len(inc) if inc else 0

    def position(self, node: int) -> np.ndarray:
        """(row, col) of a node."""
        if node in self.moved:
            return self.moved[node]
        return np.array(divmod(node, self.shape[1]), dtype=np.float64)

    def end_direction(self, node: int, eid: int, look_m: float,
                      scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
        """Unit vector pointing out of the edge at `node`, over the last `look_m` metres.

        `scale` multiplies (row, col) steps: (1, 1) for pixel space, pixel sizes for metres.
        """
        edge = self.edges[eid].oriented(node)
        rc = edge.rc  # from the node back into the edge
        steps = np.hypot(np.diff(rc[:, 0]) * self.pixel.y, np.diff(rc[:, 1]) * self.pixel.x)
        far = int(np.searchsorted(np.cumsum(steps), look_m)) + 1
        vec = (rc[0] - rc[min(far, len(rc) - 1)]) * np.asarray(scale)
        norm = float(np.hypot(*vec))
        return vec / norm if norm > 0 else vec

    def attach(self, eid: int, node: int, point: np.ndarray) -> None:
        """Extend edge `eid` at its `node` end(s) by a straight step to `point`."""
        e = self.edges[eid]
        for at_start in ((True, False) if e.u == e.v else (e.u == node,)):
            end = e.rc[0] if at_start else e.rc[-1]
            if np.allclose(end, point):
                continue
            idx = 0 if at_start else len(e.rc) - 1
            pieces = ([point[None], e.rc] if at_start else [e.rc, point[None]])
            e.rc = np.vstack(pieces)
            e.dist = np.insert(e.dist, 0 if at_start else len(e.dist), e.dist[idx])
            if e.prob is not None:
                e.prob = np.insert(e.prob, 0 if at_start else len(e.prob), e.prob[idx])
            e.length += chain_length(np.vstack([end, point]), self.pixel)

    def canonicalize(self) -> None:
        """Renumber and orient edges in a canonical order, independent of block order.

        The repairs below visit edges in id order and break ties by it, so this makes
        their result depend only on the skeleton, not on how the scene was cut into
        blocks.  An isolated loop starts at its lowest pixel.
        """
        width = self.shape[1]
        canon = []
        for e in self.edges.values():
            pixels = np.round(e.rc).astype(np.int64)
            keys = pixels[:, 0] * width + pixels[:, 1]
            if e.u == e.v and self.degree(e.u) == 2 and len(keys) > 2:
                i = int(np.argmin(keys[:-1]))
                order = np.r_[np.arange(i, len(keys) - 1), np.arange(0, i + 1)]
                node = int(keys[i])
                e = Edge(node, node, e.rc[order], e.dist[order],
                         None if e.prob is None else e.prob[order], e.length)
                keys = keys[order]
            if (e.u, keys[min(1, len(keys) - 1)]) > (e.v, keys[max(len(keys) - 2, 0)]):
                e, keys = e.oriented(e.v), keys[::-1]
            canon.append(((e.u, e.v, tuple(keys[:3]), len(keys)), e))
        canon.sort(key=lambda item: item[0])
        self.edges, self.incident, self._next_id = {}, defaultdict(list), 0
        self.moved.clear()
        for _, e in canon:
            self.add(e.u, e.v, e.rc, e.dist, e.prob, e.length)

    # -- topology ----------------------------------------------------------------------
    def merge_degree2(self, nodes: Iterable[int] | None = None) -> None:
        """Join the two edges at every degree-2 node into one (roads through seams)."""
        stack = list(self.incident if nodes is None else nodes)
        while stack:
            node = stack.pop()
            inc = self.incident.get(node)
            if not inc or len(inc) != 2 or inc[0] == inc[1]:
                continue  # not degree 2, or a closed loop through its only node
            first, second = inc
            a = self.edges[first]
            a = a.oriented(a.v if a.u == node else a.u)  # runs into `node`
            b = self.edges[second].oriented(node)
            self.remove(first)
            self.remove(second)
            prob = None if a.prob is None else np.concatenate([a.prob, b.prob[1:]])
            self.add(a.u, b.v, np.vstack([a.rc, b.rc[1:]]),
                     np.concatenate([a.dist, b.dist[1:]]), prob, a.length + b.length)
            self.moved.pop(node, None)

    def contract_junctions(self) -> None:
        """Collapse short junction-to-junction edges into one node at their middle.

        Skeletons of crossings leave clusters of junctions a few pixels apart; an edge
        between two junctions no longer than the road is wide (at least 3 pixels) is
        part of one intersection, so its ends become a single node.
        """
        while True:
            picked = []
            for eid, e in self.edges.items():
                if e.u == e.v or self.degree(e.u) < 3 or self.degree(e.v) < 3:
                    continue
                if e.length <= max(3 * self.pixel.mean, 2 * e.half_width()):
                    picked.append((e.length, eid))
            if not picked:
                return
            done: set[int] = set()
            for _, eid in sorted(picked):
                e = self.edges.get(eid)
                if e is None or e.u in done or e.v in done:
                    continue
                done.update((e.u, e.v))
                self._contract(eid)

    def _contract(self, eid: int) -> None:
        e = self.remove(eid)
        u, v = e.u, e.v
        middle = e.rc[len(e.rc) // 2].copy()
        for other in list(self.incident.get(v, ())):
            if other not in self.edges:
                continue
            o = self.edges[other]
            o.u = u if o.u == v else o.u
            o.v = u if o.v == v else o.v
        moved = self.incident.pop(v, [])
        self.moved.pop(v, None)
        self.incident[u].extend(moved)
        for other in set(self.incident[u]):
            self.attach(other, u, middle)
        self.moved[u] = middle



PixelAttributes = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def add_skeleton_paths(graph: RoadGraph, skeleton: np.ndarray, origin: tuple[int, int],
                       core: tuple[slice, slice], attributes: PixelAttributes) -> None:
    """Add the skan paths of `skeleton` that this block owns to `graph`.

    `skeleton` covers scene pixels from `origin` (row, col): the block core (`core`,
    scene slices) plus a ring of :data:`RING` pixels.  `attributes(rows, cols)` gives the
    distance to background (metres) and the probability (or None) at scene pixels.
    """
    if np.count_nonzero(skeleton) < 2:
        return
    from skan import Skeleton

    skel = Skeleton(skeleton, keep_images=False)
    if skel.n_paths == 0:
        return
    rows = skel.coordinates[:, 0].astype(np.int64) + origin[0]
    cols = skel.coordinates[:, 1].astype(np.int64) + origin[1]
    keys = rows * graph.shape[1] + cols
    in_core = ((rows >= core[0].start) & (rows < core[0].stop)
               & (cols >= core[1].start) & (cols < core[1].stop))
    dist, prob = attributes(rows, cols)

    pix = skel.paths.indices  # skan pixel ids, path after path
    if pix.size < 2:
        return
    path_of = np.repeat(np.arange(skel.n_paths), np.diff(skel.paths.indptr))
    a, b = pix[:-1], pix[1:]
    owner = np.where(keys[a] < keys[b], a, b)
    kept = (path_of[:-1] == path_of[1:]) & in_core[owner]  # link j joins pix[j], pix[j+1]
    # a run of kept links goes on through pixel pix[j+1] only when that pixel is in the core
    goes_on = kept[:-1] & kept[1:] & in_core[pix[1:-1]]
    starts = np.flatnonzero(kept & ~np.concatenate([[False], goes_on]))
    ends = np.flatnonzero(kept & ~np.concatenate([goes_on, [False]]))
    rc = np.column_stack([rows, cols]).astype(np.float64)
    for s, e in zip(starts.tolist(), ends.tolist()):
        ids = pix[s:e + 2]
        graph.add(int(keys[ids[0]]), int(keys[ids[-1]]), rc[ids], dist[ids],
                  None if prob is None else prob[ids])


# -- repairs on the whole graph ----------------------------------------------------------
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
        touched = set()
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
            t = np.where(direction > 0, (hi - pos) / direction,
                         np.where(direction < 0, (lo - pos) / direction, np.inf))
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
    from scipy.spatial import cKDTree

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
    bridged = []
    for k in np.argsort(gap, kind="stable"):
        i, j = (int(x) for x in pairs[k])
        a, b = ends[i], ends[j]
        if a in used or b in used or gap[k] == 0 or gap[k] - half[i] - half[j] > max_m:
            continue
        ea, eb = graph.incident[a][0], graph.incident[b][0]
        if ea == eb and graph.edges[ea].length < 3 * gap[k]:
            continue  # the two ends of one short piece: not a gap in a road
        towards = (where[j] - where[i]) / gap[k]
        if (graph.end_direction(a, ea, look, scale) @ towards < cos_min
                or graph.end_direction(b, eb, look, scale) @ -towards < cos_min):
            continue
        ra, rb = graph.edges[ea].oriented(a), graph.edges[eb].oriented(b)
        prob = None if ra.prob is None else np.array([ra.prob[0], rb.prob[0]])
        graph.add(a, b, np.vstack([graph.position(a), graph.position(b)]),
                  np.array([ra.dist[0], rb.dist[0]]), prob)
        used.update((a, b))
        bridged.extend((a, b))
    graph.merge_degree2(bridged)
