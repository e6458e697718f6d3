"""`generate_scene`: one deterministic synthetic aerial scene with its ground truth.

Painting order (later layers cover earlier ones): soil/grass, crop fields, forest,
river, railway, roads, buildings, trees (crowns may hide road edges), then a light
optical blur, haze and sensor noise.  The ground-truth mask is the union of the road
centrelines buffered by half their width, exactly the polygons the roads are painted
from; tree crowns do not remove road from the mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from affine import Affine
from scipy import ndimage
from shapely.geometry import LineString, Polygon, box

from geoseg.sample_data import landcover, linear, objects
from geoseg.sample_data.canvas import burn
from geoseg.sample_data.network import Path, meander, road_network
from geoseg.sample_data.noise import fractal_noise

BAND_SETS = {"rgb": ("red", "green", "blue"), "bgrn16": ("blue", "green", "red", "nir")}
DN_MAX_11BIT = 2047


@dataclass
class SampleScene:
    """A synthetic scene: image, ground truth and georeferencing on one grid."""

    image: np.ndarray  # (bands, H, W): uint8 RGB or uint16 B,G,R,NIR (11-bit)
    mask: np.ndarray  # (H, W) uint8: 1 road, 0 background (and 0 under nodata)
    roads: "geopandas.GeoDataFrame"  # noqa: F821  LineString, width_m, kind, surface; CRS
    transform: Affine
    crs: str
    nodata: int | None
    valid: np.ndarray  # (H, W) bool: where the image holds data
    confusers: "geopandas.GeoDataFrame | None" = None  # noqa: F821  rivers/railways (not road)
    occluded: np.ndarray | None = None  # (H, W) bool: road pixels hidden under tree crowns
    band_names: tuple[str, ...] = field(default=("red", "green", "blue"))
    seed: int = 0

    @property
    def res(self) -> float:
        return float(self.transform.a)


def default_origin(seed: int) -> tuple[float, float]:
    """A seed-dependent upper-left corner in UTM 33N, 2 km apart for seeds 0..9999 (no overlap)."""
    k = seed % 10_000
    return 300_000.0 + 2_000.0 * (k % 100), 5_200_000.0 - 2_000.0 * (k // 100)


def generate_scene(
    height: int,
    width: int,
    seed: int = 0,
    *,
    res: float = 0.5,
    crs: str = "EPSG:32633",
    origin: tuple[float, float] | None = None,
    bands: str = "rgb",
    nodata_collar: bool = False,
) -> SampleScene:
    """Paint a `height` x `width` scene at `res` m/pixel; the same arguments give the same scene.

    `origin` is the map coordinate of the upper-left corner (default: from the seed).
    `bands` is "rgb" (3 x uint8) or "bgrn16" (blue, green, red, near infrared, uint16
    with 11-bit values).  `nodata_collar` blanks an irregular rotated collar to nodata 0.
    """
    if height < 16 or width < 16:
        raise ValueError(f"scene size {height}x{width}: both sides must be at least 16 pixels")
    if bands not in BAND_SETS:
        raise ValueError(f"bands={bands!r}: choose one of {', '.join(BAND_SETS)}")
    if res <= 0:
        raise ValueError(f"res={res}: the pixel size must be positive")
    rng = np.random.default_rng([seed % 2**64, height, width])  # any int seed, negative too
    shape = (height, width)
    img = np.zeros((4, height, width), np.float32)
    pal = landcover.scene_palette(rng)

    grid_angle = float(rng.uniform(-0.6, 0.6))  # roads and field parcels follow one grid
    paths = road_network(rng, height, width, res, grid_angle)
    landcover.ground(rng, img, pal, res)
    farmland = landcover.fields(rng, img, res, grid_angle, rng.uniform(0.15, 0.45))
    woods = landcover.forest(rng, img, pal, res, rng.uniform(0.05, 0.2), farmland)

    occupied = woods.copy()  # nobody builds in the woods
    lookalikes = []
    which = ("river", "railway", "both")[int(rng.integers(3))]
    # rivers and railways cross the road grid diagonally instead of running along a road
    diagonals = grid_angle + np.pi / 4 + np.pi / 2 * rng.permutation(2) + rng.uniform(-0.2, 0.2, 2)
    if which in ("river", "both"):
        path = meander(
            rng,
            height,
            width,
            rng.uniform(20, 55) / res,
            rng.uniform(180, 380) / res,
            rng.uniform(8.0, 20.0),
            "river",
            diagonals[0],
        )
        path.surface = "water"
        occupied |= linear.river(rng, img, pal, path, res)
        lookalikes.append(path)
    if which in ("railway", "both"):
        path = meander(
            rng,
            height,
            width,
            rng.uniform(5, 25) / res,
            rng.uniform(900, 1600) / res,
            3.2,
            "railway",
            diagonals[1],
        )
        path.surface = "ballast"
        occupied |= linear.railway(rng, img, pal, path, res)
        lookalikes.append(path)

    reach = (max(p.width_m for p in paths) / 2 + 2.0) / res
    frame = box(-reach, -reach, width + reach, height + reach)
    paths = _clip_paths(paths, frame)
    mask = linear.roads(rng, img, pal, paths, res)
    occupied |= ndimage.binary_dilation(mask.astype(bool), iterations=max(1, int(1.5 / res)))

    azimuth = rng.uniform(0, 2 * np.pi)  # direction shadows fall, the same for the scene
    sun = np.array([np.cos(azimuth), np.sin(azimuth)])
    towns = _towns(rng, paths, height, width, res)
    homes = objects.buildings(
        rng, img, paths, res, occupied, towns, rng.uniform(70.0, 150.0) / res, sun
    )
    crowns = objects.crowns_along(rng, paths, res, 0.45)
    crowns += _scattered_crowns(rng, shape, res, homes, occupied)
    canopy = objects.trees(rng, img, np.array(crowns).reshape(-1, 3), sun)

    _finish(rng, img, res)
    valid = np.ones(shape, bool)
    footprint = None
    if nodata_collar:
        footprint = _collar(rng, height, width)
        valid = burn([(footprint, 1)], shape).astype(bool)
        mask = mask & valid
    transform = Affine.translation(*(origin or default_origin(seed))) @ Affine.scale(res, -res)
    image = _quantise(img, bands, valid)
    roads = _centrelines(paths, width, height, footprint, transform, crs)
    others = _centrelines(lookalikes, width, height, footprint, transform, crs)
    return SampleScene(
        image,
        mask.astype(np.uint8),
        roads,
        transform,
        crs,
        0 if nodata_collar else None,
        valid,
        others,
        mask.astype(bool) & canopy,
        BAND_SETS[bands],
        seed,
    )


def _clip_paths(paths: list[Path], frame: Polygon) -> list[Path]:
    out = []
    for p in paths:
        part = LineString(p.xy).intersection(frame)
        for g in getattr(part, "geoms", [part]):
            if isinstance(g, LineString) and g.length > 1.0:
                out.append(Path(np.asarray(g.coords), p.width_m, p.kind, p.surface))
    return out


def _towns(
    rng: np.random.Generator, paths: list[Path], height: int, width: int, res: float
) -> np.ndarray:
    """Settlement centres: one per ~250 m square of scene, on road junctions inside it."""
    ends = np.array(
        [q for p in paths if p.kind != "track" for q in (p.xy[0], p.xy[-1])]
        or [[width / 2, height / 2]]
    )
    inside = ends[
        (ends[:, 0] >= 0) & (ends[:, 0] < width) & (ends[:, 1] >= 0) & (ends[:, 1] < height)
    ]
    if len(inside) == 0:
        inside = np.array([[width / 2, height / 2]])
    n = max(1, int(round(height * width * res * res / 250.0**2 * rng.uniform(0.6, 1.4))))
    return inside[rng.choice(len(inside), min(n, len(inside)), replace=False)]


def _scattered_crowns(
    rng: np.random.Generator,
    shape: tuple[int, int],
    res: float,
    homes: list[np.ndarray],
    occupied: np.ndarray,
) -> list:
    """Lone trees across the open land plus garden trees around the buildings."""
    h, w = shape
    n = int(h * w * res * res / 6000.0)
    seeds = list(rng.uniform(0, 1, (n, 2)) * [w, h])
    seeds += [c + rng.normal(0, 6.0 / res, 2) for c in homes if rng.random() < 0.5]
    pts = []
    for c in seeds:  # clumps of a few crowns: irregular canopy rather than lone discs
        for q in c + rng.normal(0, 3.0 / res, (int(rng.integers(1, 7)), 2)):
            if 0 <= q[0] < w and 0 <= q[1] < h and not occupied[int(q[1]), int(q[0])]:
                pts.append(q)
    return [(float(p[0]), float(p[1]), float(rng.uniform(1.5, 4.0) / res)) for p in pts]


def _finish(rng: np.random.Generator, img: np.ndarray, res: float) -> None:
    """Optics and sensor: slight blur, uneven illumination/haze, noise."""
    shape = img.shape[1:]
    for b in range(img.shape[0]):
        img[b] = ndimage.gaussian_filter(img[b], 0.65)
    light = 1.0 + 0.05 * fractal_noise(rng, shape, 250.0 / res, 2)
    img *= light[None]
    grey = img[:3].mean(axis=0)
    img[:3] = 0.78 * img[:3] + 0.22 * grey[None]  # atmosphere washes colours out
    img += np.float32(0.035) * np.array([0.9, 0.95, 1.1, 0.4], np.float32)[:, None, None]
    img += np.float32(0.002) * rng.standard_normal(img.shape, dtype=np.float32)


def _collar(rng: np.random.Generator, height: int, width: int) -> Polygon:
    """An irregular, rotated quadrilateral footprint leaving a nodata collar at the edges."""
    a = rng.uniform(0.1, 0.2) * rng.choice([-1, 1])
    c, s = np.cos(a), np.sin(a)
    hw, hh = width * rng.uniform(0.40, 0.44), height * rng.uniform(0.40, 0.44)
    corners = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
    corners += rng.uniform(-0.05, 0.05, (4, 2)) * [width, height]
    rot = corners @ np.array([[c, s], [-s, c]])
    return Polygon(rot + [width / 2.0, height / 2.0])


def _quantise(img: np.ndarray, bands: str, valid: np.ndarray) -> np.ndarray:
    if bands == "rgb":
        out = np.clip(np.rint(img[:3] * 255.0), 1, 255).astype(np.uint8)
    else:
        bgrn = img[[2, 1, 0, 3]]
        out = np.clip(np.rint(40.0 + bgrn * 1800.0), 1, DN_MAX_11BIT).astype(np.uint16)
    out[:, ~valid] = 0
    return out


def _centrelines(
    paths: list[Path],
    width: int,
    height: int,
    footprint: Polygon | None,
    transform: Affine,
    crs: str,
):
    """Centrelines clipped to the scene (and its valid footprint), in map coordinates."""
    import geopandas as gpd  # lazy: geopandas takes ~1 s to load

    area = box(0, 0, width, height)
    if footprint is not None:
        area = area.intersection(footprint.buffer(-1.0))
    rows = []
    for p in paths:
        part = LineString(p.xy).intersection(area)
        for g in getattr(part, "geoms", [part]):
            if isinstance(g, LineString) and g.length > 1.0:
                rows.append((g, p.width_m, p.kind, p.surface))
    t = transform

    def to_map(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [t.c + t.a * xy[:, 0] + t.b * xy[:, 1], t.f + t.d * xy[:, 0] + t.e * xy[:, 1]]
        )

    geoms = shapely.transform(np.array([r[0] for r in rows], dtype=object), to_map)
    # drop the dense curve sampling (<= 5 cm off) and round to millimetres
    geoms = shapely.set_precision(shapely.simplify(geoms, 0.05), 0.001)
    return gpd.GeoDataFrame(
        {
            "width_m": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "surface": [r[3] for r in rows],
        },
        geometry=list(geoms),
        crs=crs,
    )
