"""Predictions and truths as binary road masks on one grid, read window by window.

Scoring needs both masks on the same pixels.  The *grid* is the truth raster's (a
prediction on another grid is warped onto it with nearest-neighbour resampling through
a GDAL warped VRT, so it is still read in windows); when the truth is a vector layer the
grid is the prediction raster's.  Vector roads are rasterized on that grid as their
LineStrings buffered by half their ``width_m`` attribute (or `default_width_m`), in
metres — through a local UTM zone when the grid is geographic.

Binarisation: a mask is road by the one road-mask rule of :class:`geoseg.io.grid.RoadRule`
(equal-band masks accepted; 0/1 and 0/max masks as they are; soft masks at half their
maximum) — the rule training and vectorize use.  With a `threshold` (0–1, for
probability rasters) roads are pixels ≥ threshold, integer rasters being read as
probability × dtype max (uint8 0–255, the ``prob.tif`` convention).  Grids: one rule,
:func:`geoseg.io.grid.same_grid`.

Nodata — one rule for every dtype, integer or float, prediction or truth
(:func:`geoseg.io.grid.read_pixels`): a pixel is scored only where both files have
data.  A raster has no data at its nodata value, where its internal mask or alpha band
says so, at NaN or ±inf (float rasters, with or without a
nodata value) and outside its extent (a prediction warped onto the truth's grid); a
vector layer has data wherever the raster it is placed on has.  No pixel left — the two
files do not overlap, or one of them is nodata where the other has data — is an error
naming both files (:class:`~geoseg.errors.DataError`), never a score.  A truth road mask
whose nodata value is 0, its non-road value (a 0/255 mask after some GDAL tools), is
refused (:func:`geoseg.io.grid.check_mask_nodata`): only its roads would be scored, and
precision would read 100 %.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.features import rasterize
from rasterio.transform import array_bounds
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window, bounds, transform
from shapely.geometry import box

from geoseg.errors import DataError, GridMismatchError, RasterReadError, VectorReadError
from geoseg.io.grid import (
    Raster,
    Reader,
    RoadRule,
    array_grid,
    check_mask_nodata,
    describe,
    open_raster,
    read_pixels,
    road_rule,
    same_grid,
)
from geoseg.io.vector import read_roads
from geoseg.metrics.graph import is_metric_crs

log = logging.getLogger(__name__)

RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".png", ".jpg", ".jpeg", ".img", ".jp2"}
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml"}
DEFAULT_WIDTH_M = 4.0  # SpaceNet's road masks buffer centerlines by 2 m each side
GDAL_CACHE_MB = 64


def kind_of(path: str | Path) -> str:
    """'raster' or 'vector' from the file suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return "raster"
    if suffix in VECTOR_SUFFIXES:
        return "vector"
    raise RasterReadError(
        f"{path}: unknown file type {suffix!r} (expected a raster such as "
        ".tif or a vector layer such as .gpkg/.geojson/.shp)"
    )


def binarize(
    values: np.ndarray, threshold: float | None, rule: RoadRule | None = None
) -> np.ndarray:
    """Road mask of raster values: with a `threshold`, pixels >= threshold (integer
    rasters read as probability × dtype max); without, the one road-mask rule
    (:class:`geoseg.io.grid.RoadRule`: `rule`, or the rule of `values` as a whole mask)."""
    if threshold is not None:
        integer = np.issubdtype(values.dtype, np.integer)
        if integer and values.dtype != bool:
            return values >= threshold * np.iinfo(values.dtype).max
        return values >= threshold
    if rule is None:
        rule = road_rule(Reader(array_grid(values, "road mask")))
    return rule.road(values)


class RasterMask:
    """One raster, binarised, optionally warped onto another grid."""

    def __init__(
        self,
        path: Path,
        stack: contextlib.ExitStack,
        threshold: float | None = None,
        grid: Raster | None = None,
        what: str = "prediction mask",
    ):
        self.path, self.threshold = path, threshold
        src = stack.enter_context(open_raster(path))
        raster = describe(src, path)
        self.rule: RoadRule | None = None
        if threshold is None:  # a road mask: the one rule (equal bands, 0/max, soft)
            if what == "truth mask":  # nodata 0 would leave only roads to score
                check_mask_nodata(raster, what)
            self.rule = road_rule(Reader(raster, src), "road mask")
        elif src.count > 1:
            log.warning("%s: %d bands, scoring band 1", path, src.count)
        self.raster = raster.with_bands((1,))
        self.grid = self.raster
        self.ds = src
        self.alpha: int | None = None  # band of the warp's alpha: outside the extent
        if grid is not None and not same_grid(self.raster, grid):
            if self.raster.crs is None or grid.crs is None:
                raise GridMismatchError(
                    f"{self.path}: {self.raster.height}×{self.raster.width} pixels cannot be "
                    f"matched to the truth's {grid.height}×{grid.width} grid without a CRS on "
                    "both"
                )
            self.ds = stack.enter_context(self._warped(src, grid))
            self.alpha = self.ds.count
            self.grid = grid

    def _warped(self, src, grid: Raster):

        log.info("%s: warping onto the truth grid (nearest)", self.path)
        try:
            return WarpedVRT(
                src,
                crs=grid.crs,
                transform=grid.transform,
                width=grid.width,
                height=grid.height,
                resampling=Resampling.nearest,
                add_alpha=True,
            )
        except Exception as exc:  # rasterio raises several types for impossible warps
            raise GridMismatchError(
                f"{self.path}: cannot be warped onto the truth grid ({exc})"
            ) from None

    def read(self, row: int, col: int, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
        win = Window(col, row, cols, rows)
        where = f"rows {row}-{row + rows}, columns {col}-{col + cols}"
        # the warp's output is masked by its alpha: read_masks tells validity (read_pixels)
        raster = self.raster if self.alpha is None else replace(self.raster, has_mask=True)
        values, valid = read_pixels(self.ds, raster, win, where)
        if self.alpha is not None:  # GDAL flags the alpha on integer bands only
            try:
                valid &= self.ds.read(self.alpha, window=win) > 0
            except RasterioIOError:
                raise RasterReadError(
                    f"{self.path}: cannot read its pixels (truncated or corrupt file)"
                ) from None
        return binarize(values[0], self.threshold, self.rule), valid


class VectorMask:
    """Road centerlines rasterized on a grid as polygons of their width, per window."""

    def __init__(
        self,
        path: Path,
        grid: Raster,
        default_width_m: float = DEFAULT_WIDTH_M,
        raster: Path | None = None,
    ):

        if grid.crs is None:
            raise GridMismatchError(
                f"{path}: vector roads cannot be placed on a raster without a CRS"
            )
        self.path, self.grid = path, grid
        polys = road_polygons(path, grid.crs, default_width_m)
        self.polys = np.asarray(polys, dtype=object)
        self.tree = shapely.STRtree(self.polys)
        extent = box(*array_bounds(grid.height, grid.width, grid.transform))
        if len(polys) and not self.tree.query(extent, predicate="intersects").size:
            raise DataError(
                f"{path} and {raster}: the roads lie outside the raster "
                "(no overlap): no pixel to score"
            )

    def read(self, row: int, col: int, rows: int, cols: int) -> tuple[np.ndarray, None]:

        win = Window(col, row, cols, rows)
        hits = self.tree.query(box(*bounds(win, self.grid.transform)))
        if len(hits) == 0:
            return np.zeros((rows, cols), bool), None
        burned = rasterize(
            self.polys[hits],
            out_shape=(rows, cols),
            fill=0,
            default_value=1,
            transform=transform(win, self.grid.transform),
            dtype="uint8",
        )
        return burned.astype(bool), None


def read_lines(path: Path):
    """A vector layer as a GeoDataFrame of its line features (VectorReadError otherwise)."""

    df = read_roads(path)
    df = df[df.geometry.notna() & ~df.geometry.is_empty]
    bad = ~df.geom_type.isin(["LineString", "MultiLineString"])
    if bad.any():
        raise VectorReadError(
            f"{path}: roads must be LineStrings, found {df.geom_type[bad].iloc[0]}"
        )
    return df


def road_polygons(path: Path, crs, default_width_m: float) -> list:
    """Road lines of `path` buffered by width_m/2 metres, in `crs`."""
    from pyproj import CRS  # lazy: only for geographic CRSs

    df = read_lines(path)
    if df.crs is None:
        log.warning("%s: no CRS, assuming the raster's", path)
        df = df.set_crs(crs)
    target = CRS.from_user_input(crs)
    widths = np.full(len(df), float(default_width_m))
    if "width_m" in df.columns:
        import pandas as pd  # lazy: heavy, one use

        given = pd.to_numeric(df["width_m"], errors="coerce")
        text = given.isna() & df["width_m"].notna()
        if text.any():
            raise VectorReadError(
                f"{path}: width_m must be a number of metres, found {df['width_m'][text].iloc[0]!r}"
            )
        given = np.asarray(given, dtype=float)
        ok = np.isfinite(given) & (given > 0)
        widths[ok] = given[ok]
    if df.empty:
        return []
    work = target if is_metric_crs(target) else df.to_crs(4326).estimate_utm_crs()
    buffered = df.to_crs(work).geometry.buffer(widths / 2, cap_style="flat")
    return list(buffered.to_crs(target).values)


def check_overlap(pred: str | Path, truth: str | Path) -> None:
    """DataError naming both files when two rasters' extents do not overlap (headers
    only; rasters without a CRS are matched pixel for pixel and always overlap)."""

    pred, truth = Path(pred), Path(truth)
    if (kind_of(pred), kind_of(truth)) != ("raster", "raster"):
        return
    with open_raster(pred) as p, open_raster(truth) as t:
        if p.crs is None or t.crs is None:
            return
        try:
            bounds = transform_bounds(p.crs, t.crs, *p.bounds, densify_pts=21)
        except Exception:  # a CRS pair pyproj cannot relate: the warp will say so
            return
        common = box(*bounds).intersection(box(*t.bounds))
    if common.area <= 0:
        raise DataError(f"{pred} and {truth} do not overlap: no pixel to score")


class PairReader:
    """``reader(row, col, rows, cols)`` → ``(pred_mask, truth_mask, valid)``, noting
    whether each file had data anywhere, for :meth:`check`."""

    def __init__(self, pred: Path, truth: Path, p, t) -> None:
        self.pred, self.truth, self.p, self.t = pred, truth, p, t
        self.pred_data = self.truth_data = self.both_data = False

    def __call__(self, row: int, col: int, rows: int, cols: int):
        pm, pv = self.p.read(row, col, rows, cols)
        tm, tv = self.t.read(row, col, rows, cols)
        valid = pv if tv is None else tv if pv is None else pv & tv
        self.pred_data = self.pred_data or pv is None or bool(pv.any())
        self.truth_data = self.truth_data or tv is None or bool(tv.any())
        self.both_data = self.both_data or valid is None or bool(valid.any())
        return pm, tm, valid

    def check(self) -> None:
        """DataError naming both files when no pixel had data in both (call after
        every block was read)."""
        if self.both_data:
            return
        pred, truth = self.pred, self.truth
        if not self.pred_data:
            raise DataError(
                f"{pred} has no valid pixel over {truth} (all nodata there): no pixel to score"
            )
        if not self.truth_data:
            raise DataError(
                f"{truth} has no valid pixel under {pred} (all nodata there): no pixel to score"
            )
        raise DataError(
            f"{pred} and {truth} have no valid pixel in common (each is nodata "
            "where the other has data): no pixel to score"
        )


@contextlib.contextmanager
def open_pair(
    pred: str | Path,
    truth: str | Path,
    *,
    threshold: float | None = None,
    truth_threshold: float | None = None,
    default_width_m: float = DEFAULT_WIDTH_M,
) -> Iterator[tuple[Raster, PairReader]]:
    """Yield ``(grid, read)`` where ``read(row, col, rows, cols)`` gives
    ``(pred_mask, truth_mask, valid)`` for :func:`geoseg.metrics.pixel.score_blockwise`;
    ``read.check()`` afterwards refuses a pair without a pixel to score."""
    pred, truth = Path(pred), Path(truth)
    kinds = kind_of(pred), kind_of(truth)

    with contextlib.ExitStack() as stack:
        # every tile is read once: a small GDAL block cache keeps memory O(block²)
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB))
        if kinds == ("vector", "vector"):
            raise ValueError("two vector layers are scored with APLS, not pixel metrics")
        check_overlap(pred, truth)
        p: RasterMask | VectorMask
        t: RasterMask | VectorMask
        if kinds[1] == "raster":
            t = RasterMask(truth, stack, truth_threshold, what="truth mask")
            grid = t.grid
            p = (
                RasterMask(pred, stack, threshold, grid)
                if kinds[0] == "raster"
                else VectorMask(pred, grid, default_width_m, raster=truth)
            )
        else:
            p = RasterMask(pred, stack, threshold)
            grid = p.grid
            t = VectorMask(truth, grid, default_width_m, raster=pred)
        yield grid, PairReader(pred, truth, p, t)
