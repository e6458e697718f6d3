"""Seeded smooth noise fields: the raw material of every synthetic texture.

Value noise (a coarse random grid, smoothed, then upsampled bilinearly) summed over a
few octaves.  Only additions, multiplications and scipy filters are used on full
frames, so a seed gives the same floats on every run.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def value_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """One octave of smooth noise, roughly N(0, 1), with features `scale` pixels across."""
    h, w = shape
    step = float(scale)
    if step < 2:  # fine scales: smoothed white noise at full resolution
        g = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), step / 2)
        return g / max(float(g.std()), 1e-6)
    gh, gw = int(np.ceil(h / step)) + 3, int(np.ceil(w / step)) + 3
    grid = rng.standard_normal((gh, gw), dtype=np.float32)
    grid = ndimage.gaussian_filter(grid, 0.7, mode="wrap")
    grid /= max(float(grid.std()), 1e-6)
    return _bilinear(grid, step, h, w)


def _bilinear(grid: np.ndarray, step: float, h: int, w: int) -> np.ndarray:
    """Upsample `grid` by `step` to (h, w), separably, with smoothstep weights.

    Smoothstep (3t^2 - 2t^3) instead of linear weights keeps the slope continuous across
    grid cells, so thresholded noise (field zones, river banks) has no corners.
    """

    def axis(n: int) -> tuple[np.ndarray, np.ndarray]:
        pos = np.arange(n, dtype=np.float64) / step
        i = np.floor(pos).astype(np.intp)
        f = pos - i
        return i, (f * f * (3.0 - 2.0 * f)).astype(np.float32)

    xi, fx = axis(w)
    tmp = grid[:, xi] * (1 - fx) + grid[:, xi + 1] * fx
    yi, fy = axis(h)
    return tmp[yi] * (1 - fy)[:, None] + tmp[yi + 1] * fy[:, None]


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    scale: float,
    octaves: int = 3,
    persistence: float = 0.5,
) -> np.ndarray:
    """Sum of `octaves` value-noise layers, each half the size and `persistence` as strong."""
    total = np.zeros(shape, np.float32)
    amp, norm = 1.0, 0.0
    for k in range(octaves):
        total += amp * value_noise(rng, shape, scale / 2**k)
        norm += amp * amp
        amp *= persistence
    total /= np.float32(np.sqrt(norm))
    return total


def fine_grain(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Pixel-scale grain (a lightly smoothed white noise), unit variance."""
    g = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 0.6)
    return g / max(float(g.std()), 1e-6)
