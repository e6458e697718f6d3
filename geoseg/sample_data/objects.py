"""Painters for compact objects: buildings with shadows and tree crowns.

Buildings line the roads inside settlements (and sit alone as farmsteads), never on a
road, river or railway.  Trees are scattered, denser in settlements, and some stand
on road edges so that their crowns hide parts of the road (as in DeepGlobe, the road
under a crown is still road in the ground truth).
"""

from __future__ import annotations

import numpy as np
from skimage.draw import disk, polygon

from geoseg.sample_data.canvas import colour, jitter
from geoseg.sample_data.network import Path

ROOFS = [
    colour(168, 84, 62, 0.30),  # terracotta
    colour(124, 124, 128, 0.24),  # grey sheet
    colour(206, 204, 198, 0.40),  # white / light concrete
    colour(76, 74, 78, 0.16),  # dark
    colour(136, 104, 82, 0.28),  # brown
    colour(112, 134, 152, 0.26),  # blue metal
]


def _stations(path: Path, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every `step` pixels along a path and unit tangents there."""
    seg = np.diff(path.xy, axis=0)
    lens = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(lens)])
    at = np.arange(step / 2, cum[-1], step)
    i = np.clip(np.searchsorted(cum, at) - 1, 0, len(seg) - 1)
    t = ((at - cum[i]) / np.maximum(lens[i], 1e-9))[:, None]
    pts = path.xy[i] + t * seg[i]
    tan = seg[i] / np.maximum(lens[i], 1e-9)[:, None]
    return pts, tan


def _rect(c: np.ndarray, t: np.ndarray, a: float, b: float) -> np.ndarray:
    """Corners (4, 2) of an a x b rectangle centred at `c`, long side along unit `t`."""
    n = np.array([-t[1], t[0]])
    return np.array(
        [
            c + t * a / 2 + n * b / 2,
            c - t * a / 2 + n * b / 2,
            c - t * a / 2 - n * b / 2,
            c + t * a / 2 - n * b / 2,
        ]
    )


def _fill(corners: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixels whose centres lie inside the polygon (pixel centres at i + 0.5)."""
    return polygon(corners[:, 1] - 0.5, corners[:, 0] - 0.5, shape)


def buildings(
    rng: np.random.Generator,
    img: np.ndarray,
    paths: list[Path],
    res: float,
    occupied: np.ndarray,
    centres: np.ndarray,
    radius: float,
    sun: np.ndarray,
) -> list[np.ndarray]:
    """Place and paint buildings along roads; return their centres (for garden trees)."""
    placed: list[np.ndarray] = []
    for path in paths:
        pts, tans = _stations(path, rng.uniform(13.0, 22.0) / res)
        for p, t in zip(pts, tans):
            near = len(centres) and np.min(np.hypot(*(centres - p).T)) < radius
            if rng.random() > (0.85 if near else 0.03):
                continue
            for side in (-1.0, 1.0):
                if rng.random() < 0.2:
                    continue
                a, b = rng.uniform(7.0, 16.0) / res, rng.uniform(6.0, 11.0) / res
                gap = (path.width_m / 2 + rng.uniform(2.5, 9.0)) / res
                n = np.array([-t[1], t[0]]) * side
                c = p + n * (gap + b / 2)
                tt = t if rng.random() < 0.8 else np.array([-t[1], t[0]])
                if _building(rng, img, c, tt, a, b, res, occupied, sun):
                    placed.append(c)
    return placed


def _building(
    rng: np.random.Generator,
    img: np.ndarray,
    c: np.ndarray,
    t: np.ndarray,
    a: float,
    b: float,
    res: float,
    occupied: np.ndarray,
    sun: np.ndarray,
) -> bool:
    shape = img.shape[1:]
    pad = 1.5 / res
    rr, cc = _fill(_rect(c, t, a + 2 * pad, b + 2 * pad), shape)
    if rr.size == 0 or occupied[rr, cc].any():
        return False
    occupied[rr, cc] = True
    corners = _rect(c, t, a, b)
    height = rng.uniform(3.0, 9.0) / res
    sr, sc = _fill(corners + sun * height * 0.5, shape)
    img[:, sr, sc] *= np.float32(0.5)
    rr, cc = _fill(corners, shape)
    if rr.size == 0:
        return True
    roof = jitter(rng, ROOFS[int(rng.integers(len(ROOFS)))], 0.08)
    n = np.array([-t[1], t[0]])
    across = (cc + 0.5 - c[0]) * n[0] + (rr + 0.5 - c[1]) * n[1]
    along = (cc + 0.5 - c[0]) * t[0] + (rr + 0.5 - c[1]) * t[1]
    if rng.random() < 0.55:  # gable roof: the two slopes catch the sun differently
        lit = np.sign(across) == np.sign(-(sun @ n) + 1e-9)
        factor = np.where(lit, 1.12, 0.86)
    else:  # flat roof with a darker parapet
        rim = (np.abs(across) > b / 2 - 1.2) | (np.abs(along) > a / 2 - 1.2)
        factor = np.where(rim, 0.85, 1.0)
    img[:, rr, cc] = roof[:, None] * factor[None].astype(np.float32)
    return True


def trees(
    rng: np.random.Generator, img: np.ndarray, crowns: np.ndarray, sun: np.ndarray
) -> np.ndarray:
    """Paint crowns given as rows of (x, y, radius_px): shadows first, then lit crowns.

    Returns where crowns were painted (H, W bool).
    """
    shape = img.shape[1:]
    canopy = np.zeros(shape, bool)
    for x, y, r in crowns:
        off = sun * r * 1.2
        rr, cc = disk((y + off[1] - 0.5, x + off[0] - 0.5), r, shape=shape)
        img[:, rr, cc] *= np.float32(0.62)
    greens = [
        colour(46, 72, 38, 0.50),
        colour(62, 88, 46, 0.52),
        colour(38, 58, 34, 0.46),
        colour(78, 96, 54, 0.50),
    ]
    for x, y, r in crowns:
        rr, cc = disk((y - 0.5, x - 0.5), r, shape=shape)
        if rr.size == 0:
            continue
        dx, dy = (cc + 0.5 - x) / r, (rr + 0.5 - y) / r
        light = 1.0 - 0.28 * (dx * sun[0] + dy * sun[1]) - 0.15 * (dx * dx + dy * dy)
        light = light * (1.0 + 0.1 * rng.standard_normal(rr.size))
        col = jitter(rng, greens[int(rng.integers(len(greens)))], 0.1)
        img[:, rr, cc] = col[:, None] * light[None].astype(np.float32)
        canopy[rr, cc] = True
    return canopy


def crowns_along(
    rng: np.random.Generator, paths: list[Path], res: float, share: float
) -> list[tuple[float, float, float]]:
    """Tree rows on road edges over a random stretch of about `share` of the roads."""
    out = []
    for path in paths:
        if rng.random() > share:
            continue
        pts, tans = _stations(path, rng.uniform(5.0, 11.0) / res)
        if len(pts) < 2:
            continue
        start = int(rng.integers(len(pts)))
        stop = min(len(pts), start + int(rng.integers(3, 12)))
        side = rng.choice([-1.0, 1.0])
        for p, t in zip(pts[start:stop], tans[start:stop]):
            r = rng.uniform(2.5, 5.0) / res
            off = (path.width_m / 2 + rng.uniform(-1.0, 1.5)) / res * side
            q = p + np.array([-t[1], t[0]]) * off
            out.append((float(q[0]), float(q[1]), float(r)))
    return out
