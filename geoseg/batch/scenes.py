"""Batch inputs: which scenes, where they lie, and which of them the AOI needs.

SCENES on the command line may be files, glob patterns or text files listing one path
per line.  Every scene's footprint is computed from its header (bounds densified and
reprojected, so scenes of different CRSs compare correctly) in one *work CRS* with
metre units, where all batch geometry (AOI test, core regions, joins) happens.
Unreadable scenes do not stop the batch: they come back as failures with the reason.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rasterio
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError
from rasterio.features import shapes
from rasterio.warp import transform_geom
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from geoseg.errors import ConfigError, GeoSegError, RasterReadError, VectorReadError
from geoseg.io.grid import Raster, has_valid_pixels, open_grid

log = logging.getLogger(__name__)

LIST_SUFFIXES = {".txt", ".lst", ".list"}
GLOB_CHARS = set("*?[")
# Points per footprint edge when reprojecting: curved edges of a reprojected rectangle
# stay within centimetres for scenes of a few kilometres.
DENSIFY = 16
FOOTPRINT_PX = 512  # valid-data outlines are traced on the mask read at most this wide


@dataclass
class SceneInfo:
    """One readable scene in a batch: its output name, its :class:`~geoseg.io.grid.Raster`
    (the one raster model: grid, CRS, bands, validity) and its footprint in the work CRS.
    Everything else is read from the raster, never re-derived."""

    name: str
    raster: Raster
    footprint: Any  # shapely Polygon in the work CRS

    @property
    def path(self) -> str:
        return str(self.raster.path)

    @property
    def crs(self) -> str:
        return str(self.raster.crs.to_string())

    @property
    def width(self) -> int:
        return self.raster.width

    @property
    def height(self) -> int:
        return self.raster.height

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size along x and y in CRS units."""
        t = self.raster.transform
        return float(abs(t.a) or 1.0), float(abs(t.e) or 1.0)

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


@dataclass
class ScenePlan:
    """What a batch will do: its CRSs, the AOI and the scenes split by fate."""

    crs: str  # output CRS (user's --crs, or the first scene's / a UTM zone)
    work_crs: str  # projected, metre units; equal to `crs` whenever `crs` qualifies
    scenes: list[SceneInfo]  # to process, in input order
    outside: list[SceneInfo] = field(default_factory=list)  # skipped: outside the AOI
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)  # (name, path, reason)
    aoi: Any = None  # shapely geometry in the work CRS, or None


def _is_glob(item: str) -> bool:
    return any(c in GLOB_CHARS for c in item)


def _read_list(path: Path) -> list[str]:
    """Paths listed in a text file; blank lines and # comments ignored, relative to the file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the list of scenes ({exc})") from None
    out = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line).expanduser()
        out.append(str(p if p.is_absolute() else path.parent / p))
    return out


def is_truth_mask(path: Path) -> bool:
    """``<name>_mask.<ext>`` beside a ``<name>.<ext>`` scene: the truth-mask naming of
    geoseg's data (sample-data, compare, train), not a scene to map."""
    stem = path.stem
    return (
        stem.lower().endswith("_mask")
        and len(stem) > 5
        and path.with_name(stem[:-5] + path.suffix).is_file()
    )


def expand_inputs(items: Iterable[str | Path]) -> list[Path]:
    """Files, globs and list files -> unique absolute paths, in the order given.

    A glob that matches nothing is an error (a typo would otherwise silently map
    nothing); a plain path that does not exist is kept, to be reported as a failed scene.
    A glob's truth masks (:func:`is_truth_mask`) are left out, with one INFO line, unless
    the glob matches nothing else; a truth mask named on its own (or in a list file) is
    mapped like any scene.
    """
    paths: list[Path] = []
    pending = [str(i) for i in items]
    pending.reverse()
    lists_read = 0
    while pending:
        item = pending.pop()
        if _is_glob(item):
            matches = sorted(glob.glob(str(Path(item).expanduser()), recursive=True))
            if not matches:
                raise ConfigError(f"{item}: the pattern matches no files")
            files = [Path(m) for m in matches if Path(m).is_file()]
            masks = [p for p in files if is_truth_mask(p)]
            if len(masks) == len(files):  # a pattern for the masks themselves ('*_mask.tif')
                masks = []
            if masks:
                log.info(
                    "%s: %d truth mask(s) beside their scenes left out (%s); name one "
                    "directly to map it",
                    item,
                    len(masks),
                    ", ".join(p.name for p in masks[:5]) + (", ..." if len(masks) > 5 else ""),
                )
            paths.extend(p for p in files if p not in masks)
        elif Path(item).suffix.lower() in LIST_SUFFIXES and Path(item).is_file():
            lists_read += 1
            if lists_read > 1000:
                raise ConfigError(f"{item}: scene lists include each other endlessly")
            pending.extend(reversed(_read_list(Path(item))))
        else:
            paths.append(Path(item).expanduser())
    unique: dict[Path, None] = {}
    for p in paths:
        unique.setdefault(Path(os.path.normpath(p.absolute())), None)
    if not unique:
        raise ConfigError("no scenes given")
    return list(unique)


def scene_names(paths: Sequence[Path]) -> list[str]:
    """Unique, stable output names: the file stem, plus a path hash when stems collide."""
    stems = [p.stem for p in paths]
    names = []
    for p, stem in zip(paths, stems):
        if stems.count(stem) > 1:
            stem = f"{stem}-{hashlib.sha1(str(p).encode()).hexdigest()[:6]}"
        names.append(stem)
    return names


def parse_crs(value: Any, what: str = "--crs"):
    """A rasterio CRS from 'EPSG:32633', a WKT/PROJ string or a CRS object."""

    try:
        return value if isinstance(value, CRS) else CRS.from_user_input(value)
    except (CRSError, ValueError, TypeError):
        raise ConfigError(f"{what} {value!r} is not a valid coordinate reference system") from None


def utm_crs(lon: float, lat: float):
    """The WGS84 UTM zone CRS containing a longitude/latitude."""

    zone = min(max(int(math.floor((lon + 180.0) / 6.0)) + 1, 1), 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def is_metric(crs) -> bool:
    """Projected with metre units (safe for lengths and tolerances in metres)."""
    try:
        return bool(crs.is_projected) and abs(crs.linear_units_factor[1] - 1.0) < 1e-9
    except Exception:  # CRSs without a linear unit
        return False


def grid_footprint(transform, width: int, height: int) -> Any:
    """The outline of a raster grid (any affine, rotated too), densified, in its CRS."""

    corners = [transform @ xy for xy in ((0, 0), (width, 0), (width, height), (0, height))]
    ring = shapely.Polygon(corners)
    step = math.sqrt(ring.area) / DENSIFY
    return shapely.segmentize(ring, step) if step > 0 else ring


def valid_footprint(
    path: Path, transform, width: int, height: int, max_size: int = FOOTPRINT_PX
) -> Any | None:
    """The outline of a scene's valid pixels (nodata collars excluded), from its GDAL
    dataset mask read at most `max_size` px wide; None when every pixel is valid."""

    scale = max(width, height) / max_size
    shape = (
        (max(1, round(height / scale)), max(1, round(width / scale)))
        if scale > 1
        else (height, width)
    )
    with rasterio.open(path) as src:
        valid = src.dataset_mask(out_shape=shape, resampling=Resampling.nearest)
    if valid.all():
        return None
    cell = transform @ Affine.scale(width / shape[1], height / shape[0])
    polys = [shapely.geometry.shape(g) for g, _ in shapes(valid, mask=valid > 0, transform=cell)]
    if not polys:
        return shapely.Polygon()
    # Straighten the pixel staircase (one decimated pixel at most).
    return shapely.simplify(shapely.union_all(polys), max(abs(cell.a), abs(cell.e)))


def transform_geometry(geom, src_crs, dst_crs):
    """Reproject a shapely geometry (identity when the CRSs are equal)."""

    if parse_crs(src_crs) == parse_crs(dst_crs):
        return geom
    return shape(transform_geom(src_crs, dst_crs, mapping(geom)))


def _open_header(path: Path) -> tuple[Raster, Any]:
    """(raster, footprint in the scene CRS) or raise RasterReadError."""
    scene = open_grid(path, what="file", warn_no_crs=False)
    if scene.crs is None:
        raise RasterReadError(f"{path}: scene has no CRS, so it cannot be placed in the area")
    footprint = grid_footprint(scene.transform, scene.width, scene.height)
    if scene.has_mask:
        valid = valid_footprint(path, scene.transform, scene.width, scene.height)
        # GDAL's mask does not see NaN/±inf: a float scene is checked with the one rule
        if (valid is not None and valid.is_empty) or (
            valid is None and scene.dtype.startswith("float") and not has_valid_pixels(scene)
        ):
            raise RasterReadError(f"{path}: scene holds no valid pixel (all nodata)")
        if valid is not None:
            footprint = valid
    return scene, footprint


def choose_crs(first_crs, footprint) -> Any:
    """Default output CRS: the first scene's when projected, else its UTM zone."""
    if first_crs.is_projected:
        return first_crs
    centre = transform_geometry(footprint.centroid, first_crs, "EPSG:4326")
    return utm_crs(centre.x, centre.y)


def load_aoi(aoi: Any, crs) -> Any:
    """The AOI as one shapely (multi)polygon in `crs`.

    `aoi` is a vector file path (any OGR format; a layer without a CRS is taken to
    be in `crs`), a GeoDataFrame/GeoSeries, or a shapely geometry already in `crs`.
    """
    import geopandas as gpd  # lazy: geopandas takes ~1 s to load

    if isinstance(aoi, BaseGeometry):
        geom, where = aoi, "AOI"
    else:
        if isinstance(aoi, (gpd.GeoDataFrame, gpd.GeoSeries)):
            frame, where = aoi, "AOI"
        else:
            where = str(aoi)
            if not Path(aoi).exists():
                raise VectorReadError(f"{where}: AOI file not found")
            try:
                frame = gpd.read_file(aoi)
            except Exception as exc:  # pyogrio raises its own DataSourceError & co
                reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
                raise VectorReadError(f"{where}: not a readable vector file ({reason})") from None
        if frame.crs is None:
            log.warning("%s: AOI has no CRS; assuming %s", where, crs.to_string())
        else:
            frame = frame.to_crs(crs.to_wkt())
        geom = shapely.union_all(frame.geometry.values)
    polys = shapely.get_parts(geom)
    polys = [p for p in polys if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
    if not polys:
        raise VectorReadError(f"{where}: the AOI holds no polygons")
    return shapely.make_valid(shapely.union_all(polys))


def plan_scenes(inputs: Iterable[str | Path], *, aoi: Any = None, crs: Any = None) -> ScenePlan:
    """Read every scene's header, pick the CRSs and keep the scenes the AOI needs.

    Raises :class:`GeoSegError` when nothing is readable or the AOI intersects no scene.
    """
    paths = expand_inputs(inputs)
    names = scene_names(paths)
    headers: list[tuple[str, Path, tuple[Raster, Any]]] = []
    unreadable: list[tuple[str, str, str]] = []
    for name, path in zip(names, paths):
        try:
            headers.append((name, path, _open_header(path)))
        except GeoSegError as exc:
            log.warning("%s", exc)
            unreadable.append((name, str(path), str(exc)))
    if not headers:
        raise RasterReadError(f"none of the {len(paths)} scenes is readable: {unreadable[0][2]}")
    first_crs, first_fp = headers[0][2][0].crs, headers[0][2][1]
    out_crs = parse_crs(crs) if crs is not None else choose_crs(first_crs, first_fp)
    work_crs = (
        out_crs
        if is_metric(out_crs)
        else choose_crs(
            parse_crs("EPSG:4326"), transform_geometry(first_fp, first_crs, "EPSG:4326")
        )
    )
    scenes = []
    for name, path, (raster, fp) in headers:
        footprint = transform_geometry(fp, raster.crs, work_crs)
        scenes.append(SceneInfo(name=name, raster=raster, footprint=footprint))
    plan = ScenePlan(
        crs=out_crs.to_string(), work_crs=work_crs.to_string(), scenes=scenes, unreadable=unreadable
    )
    if aoi is not None:
        plan.aoi = load_aoi(aoi, work_crs)
        keep = [s for s in scenes if s.footprint.intersection(plan.aoi).area > 0]
        plan.outside = [s for s in scenes if s not in keep]
        if not keep:
            b = shapely.union_all([s.footprint for s in scenes]).bounds
            where = aoi if isinstance(aoi, (str, Path)) else "AOI"
            raise GeoSegError(
                f"{where}: the AOI intersects none of the {len(scenes)} scenes (they cover "
                f"x {b[0]:.0f}..{b[2]:.0f}, y {b[1]:.0f}..{b[3]:.0f} in {work_crs.to_string()})"
            )
        plan.scenes = keep
        log.info("AOI keeps %d of %d scenes", len(keep), len(scenes))
    return plan
