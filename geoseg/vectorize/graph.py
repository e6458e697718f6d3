"""Road graph: skeleton paths (skan's pixel graph) as edges between pixel nodes.

A node is keyed by its pixel's raveled index in the *scene* (row × width + col), so
blocks that see the same pixel share the node without any bookkeeping.  An edge keeps
its pixel chain (row, col), the distance to background at each pixel (metres, for
widths) and, when given, the probability at each pixel.

Block seams: a block builds the paths of its core plus a 3-pixel ring (whose skeleton is the
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
from scipy import sparse
from scipy.sparse.csgraph import connected_components, depth_first_order

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
    def add(
        self,
        u: int,
        v: int,
        rc: np.ndarray,
        dist: np.ndarray,
        prob: np.ndarray | None,
        length: float | None = None,
    ) -> int:
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

    def end_direction(
        self,
        node: int,
        eid: int,
        look_m: float,
        scale: tuple[float, float] | np.ndarray = (1.0, 1.0),
    ) -> np.ndarray:
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
        for at_start in (True, False) if e.u == e.v else (e.u == node,):
            end = e.rc[0] if at_start else e.rc[-1]
            if np.allclose(end, point):
                continue
            idx = 0 if at_start else len(e.rc) - 1
            pieces = [point[None], e.rc] if at_start else [e.rc, point[None]]
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
                e = Edge(
                    node,
                    node,
                    e.rc[order],
                    e.dist[order],
                    None if e.prob is None else e.prob[order],
                    e.length,
                )
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
            prob = (
                None if a.prob is None or b.prob is None else np.concatenate([a.prob, b.prob[1:]])
            )
            self.add(
                a.u,
                b.v,
                np.vstack([a.rc, b.rc[1:]]),
                np.concatenate([a.dist, b.dist[1:]]),
                prob,
                a.length + b.length,
            )
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
                edge = self.edges.get(eid)
                if edge is None or edge.u in done or edge.v in done:
                    continue
                done.update((edge.u, edge.v))
                self._contract(eid)

    def _contract(self, eid: int) -> None:
        e = self.edges[eid]
        u, v = e.u, e.v
        middle = e.rc[len(e.rc) // 2].copy()
        # the junction's extent (its two nodes plus the road's half width): its arms
        # are cut back to this circle before they are joined to the middle, so arms
        # leaving one node side by side do not share the last stretch into it
        radius = (
            max(float(np.hypot(*(self.position(n) - middle))) for n in (u, v))
            + e.half_width() / self.pixel.mean
        )
        self.remove(eid)
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
            self.trim_end(other, u, middle, radius)
            self.attach(other, u, middle)
        self.moved[u] = middle

    def trim_end(self, eid: int, node: int, centre: np.ndarray, radius: float) -> None:
        """Drop the vertices of edge `eid` within `radius` pixels of `centre` from its
        `node` end(s), keeping at least the vertex at its other end.

        The edge keeps its length: the cut is inside a junction that the edge is about
        to be joined to again, and repairs judge an arm by its length to that junction
        (shrinking it here would let the junction swallow its arms one by one).
        """
        e = self.edges[eid]
        near = np.hypot(*(e.rc - centre).T) <= radius + 1e-9
        n = len(near)
        head = int(np.argmin(near)) if not near.all() else n
        tail = int(np.argmin(near[::-1])) if not near.all() else n
        if e.u == e.v:
            head, tail = min(head, n - 1), min(tail, max(n - 1 - head, 0))
        elif e.u == node:
            head, tail = min(head, n - 1), 0
        else:
            head, tail = 0, min(tail, n - 1)
        if head == 0 and tail == 0:
            return
        keep = slice(head, n - tail)
        e.rc, e.dist = e.rc[keep], e.dist[keep]
        if e.prob is not None:
            e.prob = e.prob[keep]


PixelAttributes = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def skeleton_paths(skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a skeleton into node-to-node pixel paths, as ``skan.Skeleton`` does.

    skan builds the pixel graph (8-neighbour links, junction clusters reduced to their
    minimum spanning tree); its paths run from a node (degree ≠ 2) through degree-2
    pixels to the next node, and isolated loops are closed paths.  ``skan.Skeleton``
    walks them with Numba functions compiled anew in every process (~3 s); here the
    same paths come from one depth-first pass (scipy) over the degree-2 pixels.
    Returns (coordinates (N, 2), path indptr, path pixel indices): path k is
    ``indices[indptr[k]:indptr[k + 1]]``.
    """
    from skan.csr import skeleton_to_csgraph  # lazy: loads numba

    graph, coords = skeleton_to_csgraph(skeleton)
    graph = sparse.csr_matrix(graph)
    graph.eliminate_zeros()
    coords = np.column_stack(coords)
    n = graph.shape[0]
    inner = np.diff(graph.indptr) == 2  # pixels in the middle of a path
    links = graph.tocoo()
    a, b = links.row[links.row < links.col], links.col[links.row < links.col]
    direct = ~inner[a] & ~inner[b]  # node next to node: a one-link path
    paths = list(np.column_stack([a[direct], b[direct]]))
    both = inner[a] & inner[b]
    chain_a, chain_b = a[both], b[both]
    # node neighbours of chain pixels (a chain end has one; a one-pixel chain has two)
    mixed = inner[a] != inner[b]
    pix = np.where(inner[a], a, b)[mixed]
    nbr = np.where(inner[a], b, a)[mixed]
    order = np.argsort(pix, kind="stable")
    pix, nbr = pix[order], nbr[order]
    first_nbr, second_nbr = np.full(n, -1), np.full(n, -1)
    new_pix = np.r_[True, pix[1:] != pix[:-1]] if pix.size else np.empty(0, bool)
    last_of = np.r_[pix[1:] != pix[:-1], True] if pix.size else np.empty(0, bool)
    first_nbr[pix[new_pix]] = nbr[new_pix]
    second_nbr[pix[last_of]] = nbr[last_of]
    # one depth-first pass from a virtual root through every chain, each from an end
    chain_graph = sparse.coo_matrix((np.ones(chain_a.size), (chain_a, chain_b)), shape=(n, n))
    _, label = connected_components(chain_graph, directed=False)
    chain_pixels = np.flatnonzero(inner)
    ends = chain_pixels[first_nbr[chain_pixels] >= 0]
    start = np.full(n, n)
    np.minimum.at(start, label[chain_pixels], chain_pixels)  # loops: any pixel
    is_path = np.zeros(n, bool)
    is_path[label[ends]] = True
    end_start = np.full(n, n)
    np.minimum.at(end_start, label[ends], ends)
    start = np.where(is_path, end_start, start)
    roots = np.unique(start[label[chain_pixels]])
    rooted = sparse.coo_matrix(
        (
            np.ones(chain_a.size + roots.size),
            (np.r_[chain_a, np.full(roots.size, n)], np.r_[chain_b, roots]),
        ),
        shape=(n + 1, n + 1),
    )
    walk = depth_first_order(rooted.tocsr(), n, directed=False, return_predecessors=False)[1:]
    cuts = np.flatnonzero(np.diff(label[walk])) + 1
    for run in np.split(walk, cuts) if walk.size else []:
        if is_path[label[run[0]]]:
            tail = second_nbr[run[-1]] if run.size == 1 else first_nbr[run[-1]]
            paths.append(np.r_[first_nbr[run[0]], run, tail])
        else:
            paths.append(np.r_[run, run[0]])
    indptr = np.r_[0, np.cumsum([p.size for p in paths])]
    indices = np.concatenate(paths) if paths else np.empty(0, dtype=np.int64)
    return coords, indptr, indices.astype(np.int64)


def add_skeleton_paths(
    graph: RoadGraph,
    skeleton: np.ndarray,
    origin: tuple[int, int],
    core: tuple[slice, slice],
    attributes: PixelAttributes,
) -> None:
    """Add the skeleton paths of `skeleton` that this block owns to `graph`.

    `skeleton` covers scene pixels from `origin` (row, col): the block core (`core`,
    scene slices) plus a ring of :data:`RING` pixels.  `attributes(rows, cols)` gives the
    distance to background (metres) and the probability (or None) at scene pixels.
    """
    if np.count_nonzero(skeleton) < 2:
        return
    coords, indptr, pix = skeleton_paths(skeleton)
    if pix.size < 2:
        return
    rows = coords[:, 0].astype(np.int64) + origin[0]
    cols = coords[:, 1].astype(np.int64) + origin[1]
    keys = rows * graph.shape[1] + cols
    in_core = (
        (rows >= core[0].start)
        & (rows < core[0].stop)
        & (cols >= core[1].start)
        & (cols < core[1].stop)
    )
    dist, prob = attributes(rows, cols)

    path_of = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    a, b = pix[:-1], pix[1:]
    owner = np.where(keys[a] < keys[b], a, b)
    kept = (path_of[:-1] == path_of[1:]) & in_core[owner]  # link j joins pix[j], pix[j+1]
    # a run of kept links goes on through pixel pix[j+1] only when that pixel is in the core
    goes_on = kept[:-1] & kept[1:] & in_core[pix[1:-1]]
    starts = np.flatnonzero(kept & ~np.concatenate([[False], goes_on]))
    ends = np.flatnonzero(kept & ~np.concatenate([goes_on, [False]]))
    rc = np.column_stack([rows, cols]).astype(np.float64)
    for s, e in zip(starts.tolist(), ends.tolist()):
        ids = pix[s : e + 2]
        graph.add(
            int(keys[ids[0]]),
            int(keys[ids[-1]]),
            rc[ids],
            dist[ids],
            None if prob is None else prob[ids],
        )
