"""Background land cover: bare soil and grass, crop fields with rows and boundaries, forest.

Colours follow a per-scene `aridity` between a green temperate landscape and the dry
brown one common in DeepGlobe (Thailand, India, Indonesia in the dry season).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from geoseg.sample_data.canvas import colour, jitter, mix
from geoseg.sample_data.noise import fine_grain, fractal_noise


def scene_palette(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The colours of one scene (RGB 0..1 + NIR), varied by its aridity."""
    a = float(rng.uniform(0.0, 1.0))
    pal = {
        "soil": mix(colour(128, 112, 88, 0.30), colour(172, 142, 108, 0.34), a),
        "grass": mix(colour(88, 108, 62, 0.48), colour(148, 136, 96, 0.36), a),
        "forest": mix(colour(44, 66, 38, 0.50), colour(62, 74, 48, 0.44), a),
        "water": mix(colour(42, 62, 68, 0.03), colour(92, 96, 78, 0.06), rng.uniform(0, 0.7)),
        "asphalt": colour(98, 98, 100, 0.13),
        "concrete": colour(178, 174, 166, 0.30),
        "dirt": mix(colour(150, 128, 100, 0.28), colour(196, 168, 132, 0.34), a),
        "gravel": colour(160, 152, 138, 0.27),
        "ballast": colour(140, 132, 120, 0.22),
        "verge": mix(colour(150, 140, 110, 0.33), colour(186, 164, 128, 0.33), a),
    }
    pal = {k: jitter(rng, v, 0.05) for k, v in pal.items()}
    pal["aridity"] = np.float32(a)
    return pal


CROPS = [
    colour(104, 124, 74, 0.55),  # green crop
    colour(82, 104, 62, 0.58),  # dense green crop
    colour(150, 142, 98, 0.40),  # ripening
    colour(176, 160, 122, 0.32),  # stubble / dry
    colour(108, 94, 78, 0.22),  # ploughed
    colour(140, 118, 94, 0.26),  # bare field
]


def ground(rng: np.random.Generator, img: np.ndarray, pal: dict, res: float) -> None:
    """Fill the canvas with a soil/grass mosaic with patchy texture."""
    shape = img.shape[1:]
    big = fractal_noise(rng, shape, 90.0 / res, 3)
    mid = fractal_noise(rng, shape, 8.0 / res, 2)
    grain = fine_grain(rng, shape)
    bias = 1.2 * (0.5 - float(pal["aridity"]))
    t = 1.0 / (1.0 + np.exp(-(1.6 * big + bias)))
    img[:] = pal["soil"][:, None, None] * (1 - t) + pal["grass"][:, None, None] * t
    small = fractal_noise(rng, shape, 2.5 / res, 2)
    img *= (1.0 + 0.08 * mid + 0.05 * small + 0.04 * grain)[None]
    scrub = fractal_noise(rng, shape, 1.5 / res, 2) + 0.6 * big - 0.8 * float(pal["aridity"])
    bush = scrub > 1.7
    img[:, bush] = img[:, bush] * 0.45 + pal["forest"][:, None] * 0.55


def fields(
    rng: np.random.Generator, img: np.ndarray, res: float, angle: float, cover: float
) -> np.ndarray:
    """Paint crop parcels (rows, boundaries) over about `cover` of the scene; return where."""
    h, w = img.shape[1:]
    zone_noise = fractal_noise(rng, (h, w), 140.0 / res, 2)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    u, v = x * c + y * s, -x * s + y * c
    span = float(np.hypot(h, w))

    def breaks(lo_m: float, hi_m: float) -> np.ndarray:
        steps = rng.uniform(lo_m / res, hi_m / res, int(2 * span / (lo_m / res)) + 2)
        return np.cumsum(steps) - span

    bu = breaks(30.0, 110.0)
    iu = np.searchsorted(bu, u)
    nu = len(bu) + 1
    shifts = rng.uniform(0, 200.0 / res, nu).astype(np.float32)
    bv = breaks(50.0, 160.0)
    iv = np.searchsorted(bv, v + shifts[iu])
    nv = len(bv) + 1
    pid = iu * nv + iv
    n = nu * nv
    count = np.bincount(pid.ravel(), minlength=n)
    level = np.bincount(pid.ravel(), zone_noise.ravel(), minlength=n) / np.maximum(count, 1)
    farmed = level > np.quantile(zone_noise, 1.0 - cover)
    zone = farmed[pid]
    if not zone.any():
        return zone
    crop = rng.integers(0, len(CROPS), n)
    tint = rng.uniform(0.9, 1.1, (n, 4)).astype(np.float32)
    table = np.stack([CROPS[k] for k in crop]) * tint  # (n, 4)
    along_u = rng.random(n) < 0.5
    period = rng.uniform(2.0, 5.0, n).astype(np.float32) / res
    depth = np.where(rng.random(n) < 0.6, rng.uniform(0.03, 0.09, n), 0.0).astype(np.float32)

    p = pid[zone]
    coord = np.where(along_u[p], u[zone], v[zone])
    rows = np.sin(np.float32(2 * np.pi) * coord / period[p])
    tex = fractal_noise(rng, (h, w), 12.0 / res, 3)[zone]
    grain = fractal_noise(rng, (h, w), 1.5 / res, 1)[zone]
    img[:, zone] = table[p].T * (1.0 + depth[p] * rows + 0.07 * tex + 0.04 * grain)[None]

    edge = np.zeros((h, w), bool)
    edge[:, 1:] |= pid[:, 1:] != pid[:, :-1]
    edge[1:, :] |= pid[1:, :] != pid[:-1, :]
    edge = ndimage.binary_dilation(edge) & zone if res <= 0.6 else edge & zone
    hedge = (rng.random(n) < 0.5)[pid[edge]]
    img[:, edge] = np.where(
        hedge[None], colour(70, 88, 52, 0.45)[:, None], colour(168, 150, 118, 0.32)[:, None]
    )
    return zone


def forest(
    rng: np.random.Generator,
    img: np.ndarray,
    pal: dict,
    res: float,
    cover: float,
    avoid: np.ndarray,
) -> np.ndarray:
    """Paint forest patches (lumpy canopy texture) over about `cover` outside `avoid`."""
    shape = img.shape[1:]
    canopy = fractal_noise(rng, shape, 3.0 / res, 2)
    # large patches with edges made ragged by crown clusters and single crowns
    zn = (
        fractal_noise(rng, shape, 110.0 / res, 3)
        + 0.12 * fractal_noise(rng, shape, 8.0 / res, 2)
        + 0.05 * canopy
    )
    zone = (zn > np.quantile(zn, 1.0 - cover)) & ~avoid
    if not zone.any():
        return zone
    relief = canopy - np.roll(canopy, (2, 2), axis=(0, 1))
    bright = 0.85 + 0.12 * canopy + 0.18 * relief
    bright = np.where(canopy < -1.3, 0.55, bright)  # gaps between crowns
    img[:, zone] = pal["forest"][:, None] * bright[zone][None]
    return zone
