"""The paint surface shared by the scene painters.

A canvas is a float32 ``(4, H, W)`` array of reflectances in ``[0, 1]``: red, green,
blue as they look on screen, plus near infrared (bright for vegetation, dark for water),
so the same painting yields both the RGB and the 4-band uint16 scenes.
"""

from __future__ import annotations

import numpy as np
from affine import Affine
from rasterio.features import rasterize
from shapely.geometry.base import BaseGeometry


def colour(r: float, g: float, b: float, nir: float) -> np.ndarray:
    """An RGB colour in 0..255 plus a near-infrared reflectance in 0..1, as a (4,) array."""
    return np.array([r / 255.0, g / 255.0, b / 255.0, nir], np.float32)


def jitter(rng: np.random.Generator, base: np.ndarray, amount: float = 0.08) -> np.ndarray:
    """`base` with each band scaled by an independent factor 1 ± `amount` (brightness too)."""
    scale = rng.uniform(1 - amount, 1 + amount) * rng.uniform(1 - amount / 2, 1 + amount / 2, 4)
    return (base * scale).astype(np.float32)


def mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Linear blend of two colours."""
    return ((1 - t) * a + t * b).astype(np.float32)


def burn(
    shapes: list[tuple[BaseGeometry, int]],
    shape: tuple[int, int],
    all_touched: bool = False,
    dtype: str = "uint8",
) -> np.ndarray:
    """Rasterise pixel-coordinate geometries (value per shape; later shapes on top)."""
    shapes = [(g, v) for g, v in shapes if g is not None and not g.is_empty]
    if not shapes:
        return np.zeros(shape, dtype)
    return rasterize(
        shapes,
        out_shape=shape,
        transform=Affine.identity(),
        fill=0,
        all_touched=all_touched,
        dtype=dtype,
    )


def paint(
    img: np.ndarray,
    where: np.ndarray,
    col: np.ndarray,
    tex: np.ndarray | None = None,
    strength: float = 0.1,
) -> None:
    """Set the pixels `where` to `col`, modulated by ``1 + strength * tex``."""
    if tex is None:
        img[:, where] = col[:, None]
    else:
        img[:, where] = col[:, None] * (1.0 + strength * tex[where])[None, :]


def shade(img: np.ndarray, where: np.ndarray, factor: float) -> None:
    """Darken (factor < 1) or brighten the pixels `where` on every band."""
    img[:, where] *= np.float32(factor)
