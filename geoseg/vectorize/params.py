"""Vectorization parameters in metres, with defaults derived from the pixel size.

Every threshold is given in metres (m² for areas) so it means the same thing on a 0.3 m
aerial scene and a 1 m satellite scene.  A default is the larger of a physical value and
a small number of pixels, so it is never below what the raster can resolve:

=================  ================================  ======================================
parameter          default                            why
=================  ================================  ======================================
min_area_m2        max(20 m², 32 px)                  blobs smaller than a parked car are noise
hole_area_m2       max(20 m², 32 px)                  holes that small are cars/trees on a road
prune_m            max(10 m, 5 px)                    skeleton spurs are about half a road width
bridge_m           max(10 m, 4 px)                    gaps from trees/shadows across a road
simplify_m         1 px                               Douglas–Peucker keeps lines within a pixel
=================  ================================  ======================================

Without a CRS, "metres" are pixels (pixel size 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from geoseg.errors import ConfigError


@dataclass(frozen=True)
class PixelSize:
    """Ground size of one pixel in metres: along x (columns) and y (rows)."""

    x: float
    y: float

    @property
    def mean(self) -> float:
        return math.sqrt(self.x * self.y)


@dataclass(frozen=True)
class VectorizeParams:
    """Resolved vectorization parameters (metres; see the module docstring for defaults)."""

    min_area_m2: float
    hole_area_m2: float
    prune_m: float
    bridge_m: float
    simplify_m: float
    block_size: int = 4096
    halo: int = 128
    bridge_angle_deg: float = 35.0

    @classmethod
    def resolve(
        cls,
        pixel: PixelSize,
        *,
        min_area_m2=None,
        hole_area_m2=None,
        prune_m=None,
        bridge_m=None,
        simplify_m=None,
        block_size=4096,
        halo=128,
        bridge_angle_deg=35.0,
    ) -> VectorizeParams:
        """Fill the parameters left as None from the pixel size, then check them."""
        p, area = pixel.mean, pixel.x * pixel.y
        params = cls(
            min_area_m2=max(20.0, 32 * area) if min_area_m2 is None else float(min_area_m2),
            hole_area_m2=max(20.0, 32 * area) if hole_area_m2 is None else float(hole_area_m2),
            prune_m=max(10.0, 5 * p) if prune_m is None else float(prune_m),
            bridge_m=max(10.0, 4 * p) if bridge_m is None else float(bridge_m),
            simplify_m=p if simplify_m is None else float(simplify_m),
            block_size=int(block_size),
            halo=int(halo),
            bridge_angle_deg=float(bridge_angle_deg),
        )
        for name in ("min_area_m2", "hole_area_m2", "prune_m", "bridge_m", "simplify_m"):
            value = getattr(params, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name}={value}: must be a number ≥ 0")
        if params.block_size < 64:
            raise ConfigError(f"block_size={params.block_size}: must be at least 64 pixels")
        if params.halo < 8:
            raise ConfigError(f"halo={params.halo}: must be at least 8 pixels")
        if not 0 < params.bridge_angle_deg <= 90:
            raise ConfigError(f"bridge_angle_deg={params.bridge_angle_deg}: must be in (0, 90]")
        return params


def pixel_size_m(transform: Any, crs: Any, shape: tuple[int, int]) -> PixelSize:
    """Pixel size in metres: CRS units × unit factor, or geodesic at the scene centre.

    Without a CRS the pixel is the unit (size 1).
    """
    if crs is None:
        return PixelSize(1.0, 1.0)
    rx = math.hypot(transform.a, transform.d)
    ry = math.hypot(transform.b, transform.e)
    if crs.is_geographic:
        from pyproj import Geod  # lazy: only for geographic CRSs

        geod = Geod(**ellipsoid_kwargs(crs))
        cx, cy = transform @ (shape[1] / 2, shape[0] / 2)
        _, _, dx = geod.inv(cx - rx / 2, cy, cx + rx / 2, cy)
        _, _, dy = geod.inv(cx, cy - ry / 2, cx, cy + ry / 2)
        return PixelSize(abs(dx), abs(dy))
    factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    return PixelSize(rx * factor, ry * factor)


def ellipsoid_kwargs(crs: Any) -> dict[str, Any]:
    """pyproj.Geod keyword arguments for a CRS's ellipsoid (WGS84 when unknown)."""
    from pyproj import CRS  # lazy: only for geographic CRSs

    ellipsoid = CRS.from_user_input(crs).ellipsoid
    if ellipsoid is None:
        return {"ellps": "WGS84"}
    return {"a": ellipsoid.semi_major_metre, "b": ellipsoid.semi_minor_metre}
