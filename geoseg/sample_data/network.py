"""Geometry of a synthetic scene: the road graph and the linear confusers.

Everything here is in pixel coordinates (x = column, y = row, pixel centres at
``i + 0.5``), so the painters can rasterise with an identity transform; the scene
converts to map coordinates once at the end.

The road network is a jittered, rotated grid of junctions reduced to a random
spanning tree plus extra loop edges (connected, with T- and X-junctions), one smooth
main road through the middle, cubic Bezier edges (straight or curved) and a few
dead-end tracks.  Rivers and railways are long meandering or gently bending paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# kind -> (width range in metres, surfaces with probabilities)
ROAD_KINDS: dict[str, tuple[tuple[float, float], dict[str, float]]] = {
    "primary": ((10.0, 15.0), {"asphalt": 1.0}),
    "secondary": ((5.0, 8.0), {"asphalt": 0.5, "concrete": 0.3, "dirt": 0.2}),
    "track": ((2.0, 4.0), {"dirt": 0.85, "gravel": 0.15}),
}


@dataclass
class Path:
    """A polyline in pixel coordinates with a width and a label."""

    xy: np.ndarray  # (N, 2) float64: x (column), y (row)
    width_m: float
    kind: str
    surface: str = ""


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, n: int) -> np.ndarray:
    """`n` points on the cubic Bezier curve p0 -> p3 with control points p1, p2."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    s = 1.0 - t
    return s**3 * p0 + 3 * s * s * t * p1 + 3 * s * t * t * p2 + t**3 * p3


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _pick(rng: np.random.Generator, choices: dict[str, float]) -> str:
    names = list(choices)
    return names[int(rng.choice(len(names), p=np.array(list(choices.values()))))]


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[ra] = rb
        return True


def road_network(
    rng: np.random.Generator, height: int, width: int, res: float, angle: float
) -> list[Path]:
    """Road centrelines for a `height` x `width` scene at `res` metres per pixel.

    The junction grid (and so the main road) is rotated by `angle` radians.
    """
    spacing = rng.uniform(110.0, 190.0) / res
    spacing = min(spacing, 0.6 * max(height, width))
    centre = np.array([width / 2.0, height / 2.0])
    n = int(np.ceil(0.5 * np.hypot(width, height) / spacing)) + 1
    shift = rng.uniform(-0.5, 0.5, 2) * spacing
    margin = 1.1 * spacing  # junctions beyond the edge, so roads run out of the scene

    nodes: dict[tuple[int, int], np.ndarray] = {}
    for i in range(-n, n + 1):
        for j in range(-n, n + 1):
            jit = rng.uniform(-0.28, 0.28, 2) * spacing
            if j == 0:
                jit[1] *= 0.4  # the main road's junctions stay close to a line
            p = centre + _rotate(np.array([i * spacing, j * spacing]) + shift + jit, angle)
            if -margin <= p[0] <= width + margin and -margin <= p[1] <= height + margin:
                nodes[(i, j)] = p

    keys = sorted(nodes)
    index = {k: t for t, k in enumerate(keys)}
    candidates = [
        (a, (a[0] + di, a[1] + dj))
        for a in keys
        for di, dj in ((1, 0), (0, 1))
        if (a[0] + di, a[1] + dj) in nodes
    ]
    main = [e for e in candidates if e[0][1] == 0 and e[1][1] == 0]
    others = [e for e in candidates if e not in main]
    order = rng.permutation(len(others))
    uf = _UnionFind(len(keys))
    for a, b in main:
        uf.union(index[a], index[b])
    chosen = []
    for t in order:
        a, b = others[t]
        if uf.union(index[a], index[b]) or rng.random() < 0.3:
            chosen.append((a, b))

    paths: list[Path] = []
    main_w = rng.uniform(*ROAD_KINDS["primary"][0])
    for a, b in main:  # Catmull-Rom tangents keep the main road smooth through junctions
        pa, pb = nodes[a], nodes[b]
        prev = nodes.get((a[0] - 1, 0), pa - (pb - pa))
        nxt = nodes.get((b[0] + 1, 0), pb + (pb - pa))
        ta, tb = (pb - prev) / 2.0, (nxt - pa) / 2.0
        pts = bezier(pa, pa + ta / 3.0, pb - tb / 3.0, pb, _samples(pa, pb))
        paths.append(Path(pts, round(main_w, 1), "primary", "asphalt"))
    degree: dict[tuple[int, int], int] = {}
    for a, b in main + chosen:
        degree[a] = degree.get(a, 0) + 1
        degree[b] = degree.get(b, 0) + 1
    for a, b in chosen:
        kind = "secondary" if rng.random() < 0.55 else "track"
        paths.append(_curved_edge(rng, nodes[a], nodes[b], kind))
    for k in keys:  # dead-end tracks: farm access, driveways
        if degree.get(k, 0) <= 2 and rng.random() < 0.35:
            direction = _rotate(np.array([1.0, 0.0]), rng.uniform(0, 2 * np.pi))
            end = nodes[k] + direction * rng.uniform(0.3, 0.55) * spacing
            paths.append(_curved_edge(rng, nodes[k], end, "track"))
    return paths


def _samples(a: np.ndarray, b: np.ndarray) -> int:
    return max(8, int(np.hypot(*(b - a)) / 3.0))


def _curved_edge(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, kind: str) -> Path:
    """A straight or curved Bezier road of `kind` from `a` to `b`."""
    bend = {"secondary": 0.35, "track": 0.6}[kind]
    straight = rng.random() < 0.35
    d = b - a
    t0 = 0.0 if straight else rng.normal(0.0, bend)
    t1 = 0.0 if straight else rng.normal(0.0, bend)
    pts = bezier(a, a + _rotate(d, t0) / 3.0, b - _rotate(d, t1) / 3.0, b, _samples(a, b))
    (lo, hi), surfaces = ROAD_KINDS[kind]
    return Path(pts, round(float(rng.uniform(lo, hi)), 1), kind, _pick(rng, surfaces))


def meander(
    rng: np.random.Generator,
    height: int,
    width: int,
    amplitude_px: float,
    wavelength_px: float,
    width_m: float,
    kind: str,
    phi: float,
) -> Path:
    """A path crossing the whole scene along direction `phi`, with two sine meanders."""
    centre = np.array([width / 2.0, height / 2.0]) + rng.uniform(-0.3, 0.3, 2) * [width, height]
    u = np.array([np.cos(phi), np.sin(phi)])
    v = np.array([-u[1], u[0]])
    half = 0.5 * np.hypot(width, height) + 3 * amplitude_px + 50
    s = np.arange(-half, half, 2.0)
    lam = wavelength_px * rng.uniform(0.8, 1.25, 2) * [1.0, 0.43]
    ph = rng.uniform(0, 2 * np.pi, 2)
    off = amplitude_px * (
        np.sin(2 * np.pi * s / lam[0] + ph[0]) + 0.35 * np.sin(2 * np.pi * s / lam[1] + ph[1])
    )
    xy = centre + s[:, None] * u + off[:, None] * v
    return Path(xy, round(width_m, 1), kind)
