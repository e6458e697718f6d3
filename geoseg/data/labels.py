"""Road centerlines (shp/gpkg/geojson) turned into road masks on a scene's grid.

Lines are read once, reprojected to the scene's CRS and buffered by half their
width in metres (attribute ``width_m`` per line, else a default) — in a local UTM
zone when the scene is in degrees.  Each training window is then rasterized on the
fly from the polygons that touch it (an STRtree query), so no full-scene mask is
ever built.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.transform import array_bounds
from shapely import STRtree, box

from geoseg.errors import DataError, VectorReadError

log = logging.getLogger(__name__)

WIDTH_FIELD = "width_m"


def _read_lines(path: Path):
    import geopandas as gpd  # lazy: geopandas takes ~1 s to load

    if not path.is_file():
        raise VectorReadError(f"{path}: label file not found")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several DataSourceError flavours
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise VectorReadError(f"{path}: cannot read road lines ({reason})") from None
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.empty:
        raise DataError(f"{path}: the label file holds no road geometries")
    return gdf


def _widths(gdf, default_m: float) -> np.ndarray:
    if WIDTH_FIELD not in gdf.columns:
        return np.full(len(gdf), float(default_m))
    widths = np.array(gdf[WIDTH_FIELD], dtype="float64")
    bad = ~np.isfinite(widths) | (widths <= 0)
    widths[bad] = default_m
    return widths


class VectorLabels:
    """Buffered road polygons in a scene's CRS, rasterized per window."""

    def __init__(
        self,
        path: str | Path,
        scene_crs,
        scene_bounds,
        default_width_m: float,
        scene_name: str = "scene",
    ) -> None:

        self.path = Path(path)
        gdf = _read_lines(self.path)
        if gdf.crs is None:
            log.warning("%s: no CRS; assuming the scene's CRS", self.path)
            gdf = gdf.set_crs(scene_crs, allow_override=True)
        widths = _widths(gdf, default_width_m)
        self.polygons = self._buffer(gdf, widths, scene_crs)
        scene_box = box(*scene_bounds)
        hits = STRtree(self.polygons).query(scene_box, predicate="intersects")
        if len(hits) == 0:
            b = gdf.to_crs(scene_crs).total_bounds if scene_crs is not None else gdf.total_bounds
            raise DataError(
                f"{self.path}: no road line overlaps {scene_name} (labels cover "
                f"{_fmt(b)}, the scene covers {_fmt(scene_bounds)} in the scene's CRS)"
            )
        self.polygons = self.polygons[hits]
        self.tree = STRtree(self.polygons)

    @staticmethod
    def _buffer(gdf, widths: np.ndarray, scene_crs) -> np.ndarray:
        """Buffer each line by width/2 metres and return polygons in `scene_crs`."""

        target = gdf.to_crs(scene_crs) if scene_crs is not None else gdf
        crs = target.crs
        if crs is not None and crs.is_geographic:
            metric = gdf.to_crs(gdf.estimate_utm_crs())
            buffered = shapely.buffer(metric.geometry.values, widths / 2.0, cap_style="flat")
            out = metric.set_geometry(buffered).to_crs(crs)
            return np.asarray(out.geometry.values)
        factor = 1.0
        if crs is not None and crs.axis_info:
            factor = crs.axis_info[0].unit_conversion_factor or 1.0  # CRS units -> metres
        half = widths / 2.0 / factor
        return np.asarray(shapely.buffer(target.geometry.values, half, cap_style="flat"))

    def rasterize(self, transform, shape: tuple[int, int], all_touched: bool = False) -> np.ndarray:
        """uint8 0/1 road mask of `shape` for the grid `transform`."""

        h, w = shape
        west, south, east, north = array_bounds(h, w, transform)
        idx = self.tree.query(box(west, south, east, north))
        if len(idx) == 0:
            return np.zeros(shape, np.uint8)
        return rasterize(
            ((g, 1) for g in self.polygons[idx]),
            out_shape=shape,
            transform=transform,
            fill=0,
            dtype="uint8",
            all_touched=all_touched,
        )


def _fmt(bounds) -> str:
    return "(" + ", ".join(f"{v:.6g}" if math.isfinite(v) else "nan" for v in bounds) + ")"
