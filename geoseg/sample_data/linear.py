"""Painters for linear features: rivers and railways (road look-alikes) and the roads.

Roads are painted from exactly the polygons that make the ground-truth mask (each
centreline buffered by half its width), so image and mask line up to the pixel.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from shapely.geometry import LineString

from geoseg.sample_data.canvas import burn, jitter, paint, shade
from geoseg.sample_data.network import Path
from geoseg.sample_data.noise import fine_grain, fractal_noise


def river(
    rng: np.random.Generator, img: np.ndarray, pal: dict, path: Path, res: float
) -> np.ndarray:
    """A meandering river with irregular banks and a vegetated riparian strip.

    Returns where the river and its banks are (no buildings go there).
    """
    shape = img.shape[1:]
    line = LineString(path.xy)
    half = path.width_m / 2 / res
    core = burn([(line.buffer(max(half - 1.5 / res, 1.0)), 1)], shape).astype(bool)
    outer = burn([(line.buffer(half + 1.5 / res), 1)], shape).astype(bool)
    bank = burn([(line.buffer(half + 7.0 / res), 1)], shape).astype(bool)
    wobble = fractal_noise(rng, shape, 15.0 / res, 2)
    water = core | (outer & (wobble > 0.0))
    strip = bank & ~water
    veg = fractal_noise(rng, shape, 2.5 / res, 2)
    paint(img, strip, pal["forest"] * np.float32(1.1), veg, 0.18)
    flow = fractal_noise(rng, shape, 20.0 / res, 2)
    paint(img, water, pal["water"], flow, 0.08)
    edge = water & ~ndimage.binary_erosion(water, iterations=2)
    shade(img, edge, 0.8)
    return bank


def railway(
    rng: np.random.Generator, img: np.ndarray, pal: dict, path: Path, res: float
) -> np.ndarray:
    """A single-track railway: embankment, ballast bed and two dark rails; returns its bed."""
    shape = img.shape[1:]
    line = LineString(path.xy)
    bed = burn([(line.buffer(5.0 / res), 1)], shape).astype(bool)
    ballast = burn([(line.buffer(1.6 / res), 1)], shape).astype(bool)
    grain = fine_grain(rng, shape)
    paint(img, bed & ~ballast, pal["verge"] * np.float32(0.95), grain, 0.06)
    paint(img, ballast, pal["ballast"], grain, 0.12)
    gauge = 0.72 / res
    rails = [(line.offset_curve(gauge), 1), (line.offset_curve(-gauge), 1)]
    shade(img, burn(rails, shape, all_touched=True).astype(bool), 0.55)
    return bed


def roads(
    rng: np.random.Generator, img: np.ndarray, pal: dict, paths: list[Path], res: float
) -> np.ndarray:
    """Paint road surfaces (with verges) and return the road mask (uint8 0/1)."""
    shape = img.shape[1:]
    order = sorted(range(len(paths)), key=lambda k: paths[k].width_m)  # wide roads on top
    lines = [LineString(p.xy) for p in paths]
    verges = [
        (lines[k].buffer((paths[k].width_m / 2 + 1.2) / res), 1)
        for k in order
        if paths[k].kind != "track"
    ]
    grain = fine_grain(rng, shape)
    verge = burn(verges, shape).astype(bool)
    paint(img, verge, pal["verge"], grain, 0.08)

    ids = burn(
        [(lines[k].buffer(paths[k].width_m / 2 / res), k + 1) for k in order], shape, dtype="int32"
    )
    road = ids > 0
    n = len(paths) + 1
    table = np.zeros((n, 4), np.float32)
    unpaved = np.zeros(n, np.float32)  # how much an unpaved road takes the local soil tone
    strip = np.zeros(n, bool)  # tracks with a grassy strip between the wheel tracks
    for k, p in enumerate(paths):
        table[k + 1] = jitter(rng, pal[p.surface], 0.07)
        if p.surface in ("dirt", "gravel"):
            unpaved[k + 1] = rng.uniform(0.35, 0.6)
            strip[k + 1] = p.kind == "track" and rng.random() < 0.5
    wear = fractal_noise(rng, shape, 6.0 / res, 2)
    rid = ids[road]
    surface = table[rid].T
    if unpaved.any():
        # compacted soil: lighter than the land around it, whatever that land is
        local = np.stack([ndimage.gaussian_filter(b, 3.0 / res) for b in img])[:, road]
        u = unpaved[rid][None]
        surface = (1 - u) * surface + u * np.minimum(local * 1.3, 1.0)
    img[:, road] = surface * (1.0 + 0.05 * wear[road] + 0.04 * grain[road])[None]
    if strip.any():
        centre = burn(
            [(lines[k], 1) for k in range(len(paths)) if strip[k + 1]], shape, all_touched=True
        )
        near = ndimage.distance_transform_edt(centre == 0) < 0.45 / res
        middle = near & strip[ids]
        img[:, middle] = 0.5 * img[:, middle] + 0.5 * pal["grass"][:, None]
    rim = road & ~ndimage.binary_erosion(road)
    shade(img, rim, 0.93)
    return road.astype(np.uint8)
