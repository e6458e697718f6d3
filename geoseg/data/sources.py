"""Labelled imagery that training reads window by window.

A *source* is one image with its road labels.  Every source answers the same three
questions, so samplers and datasets never care where pixels come from:

- ``height``, ``width``, ``count``, ``dtype`` — its size and raw band type;
- ``read(window)`` → ``(image (C,h,w) raw values, mask (h,w) uint8 0/1)`` for an integer
  rasterio :class:`~rasterio.windows.Window` (:data:`geoseg.io.windows.Window`) inside it;
- ``road_density(cell)`` → coarse map of road fraction per ``cell``-px block (or None
  when unknown), used to draw windows that contain roads more often.

:class:`RasterScene` is a GeoTIFF with either a mask raster on the same grid or
vector centerlines (rasterized per window); reads are windowed, a big scene is never
loaded whole.  Rasters follow :mod:`geoseg.io.grid` (the one raster model: validity,
same grid, the road-mask rule).  :class:`ImageTile` is a DeepGlobe-style ``*_sat.jpg`` + ``*_mask.png``
pair (small, read whole).  :class:`Region` restricts a source to a band of rows
(the validation strip when a single scene is split).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Protocol

import numpy as np
from affine import Affine
from PIL import Image, UnidentifiedImageError
from rasterio.enums import Resampling
from rasterio.transform import array_bounds
from rasterio.windows import transform as window_transform

from geoseg.data.labels import VectorLabels
from geoseg.errors import BandMismatchError, DataError, GridMismatchError, RasterReadError
from geoseg.io.grid import (
    Raster,
    RoadRule,
    check_same_grid,
    has_valid_pixels,
    open_grid,
    open_mask,
    open_raster,
    picture_road,
    read_pixels,
)
from geoseg.io.windows import Window, slices

log = logging.getLogger(__name__)


class Source(Protocol):
    name: str
    path: Path
    height: int
    width: int
    count: int
    dtype: str

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]: ...

    def road_density(self, cell: int) -> Optional[np.ndarray]: ...

    def sample_pixels(self, max_side: int = 512) -> np.ndarray: ...


def _select_bands(count: int, bands: Optional[list[int]], where: str) -> list[int]:
    if bands is None:
        return list(range(1, count + 1))
    bad = [b for b in bands if not 1 <= b <= count]
    if bad:
        raise BandMismatchError(f"{where}: has {count} band(s); band(s) {bad} do not exist")
    return list(bands)


class RasterScene:
    """A GeoTIFF scene labelled by a mask raster or by vector road lines.

    Both are :class:`geoseg.io.grid.Raster` objects: the mask must be on the scene's grid
    (:func:`geoseg.io.grid.same_grid`), its road pixels follow the one road-mask rule
    (:class:`geoseg.io.grid.RoadRule`), and a pixel invalid in the scene or the mask
    (:func:`geoseg.io.grid.read_pixels`) is never road.
    """

    def __init__(
        self,
        image: str | Path,
        mask: str | Path | None = None,
        labels: str | Path | None = None,
        *,
        bands: Optional[list[int]] = None,
        label_width_m: float = 6.0,
    ) -> None:
        if (mask is None) == (labels is None):
            raise DataError(f"{image}: give either a mask raster or vector labels for the scene")
        self.path = Path(image)
        self.name = self.path.name
        self.grid = open_grid(self.path, bands, what="scene", warn_no_crs=False)
        if not has_valid_pixels(self.grid):
            raise DataError(
                f"{self.path}: scene has no valid pixels (every pixel is nodata, masked or "
                "NaN), so there is nothing to train on"
            )
        self.height, self.width = self.grid.shape
        self.crs, self.transform = self.grid.crs, self.grid.transform
        self.bounds = array_bounds(self.height, self.width, self.transform)
        self.dtype = self.grid.dtype
        self.nodata = self.grid.nodata
        self.bands = list(self.grid.bands)
        self.count = len(self.bands)
        self.mask_path = Path(mask) if mask is not None else None
        self.mask: Raster | None = None
        self.rule: RoadRule | None = None
        self.labels: VectorLabels | None = None
        if self.mask_path is not None:
            with open_mask(self.mask_path, "mask") as reader:
                self.mask, self.rule = reader.raster, reader.rule
            check_same_grid(self.grid, self.mask, "mask")
        else:
            assert labels is not None
            self.labels = VectorLabels(labels, self.crs, self.bounds, label_width_m, self.name)
        self._handles: dict[str, object] = {}
        self._pid: int | None = None

    def _handle(self, key: str, path: Path):
        # rasterio handles must not cross fork(): reopen in every worker process.
        if self._pid != os.getpid():
            self._handles, self._pid = {}, os.getpid()
        if key not in self._handles:
            self._handles[key] = open_raster(path, key)
        return self._handles[key]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_handles"], state["_pid"] = {}, None
        return state

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        where = f"window {window}"
        try:
            image, valid = read_pixels(self._handle("scene", self.path), self.grid, window, where)
            if self.mask is not None and self.rule is not None:
                src = self._handle("mask", self.mask.path)
                values, mask_valid = read_pixels(src, self.mask, window, where)
                road = self.rule.road(values, valid & mask_valid)
            else:
                assert self.labels is not None
                shape = (int(window.height), int(window.width))
                labels = self.labels.rasterize(window_transform(window, self.transform), shape)
                road = labels.astype(bool) & valid
        except Exception as exc:  # rasterio raises RasterioIOError/CPLE_* on corrupt blocks
            if isinstance(exc, (DataError, RasterReadError)):
                raise
            raise RasterReadError(f"{self.path}: cannot read window {window} ({exc})") from None
        return image, road.astype(np.uint8)

    def road_density(self, cell: int) -> np.ndarray:
        """Road fraction per `cell`-px block from a decimated read (or coarse rasterization)."""
        shape = (max(1, -(-self.height // cell)), max(1, -(-self.width // cell)))
        if self.labels is not None:
            sy, sx = self.height / shape[0], self.width / shape[1]
            coarse = self.transform @ Affine.scale(sx, sy)
            return self.labels.rasterize(coarse, shape, all_touched=True).astype(np.float32)
        assert self.mask is not None and self.rule is not None
        m = self._handle("mask", self.mask.path)
        raw = m.read(1, out_shape=shape, resampling=Resampling.average, out_dtype="float32")
        return np.clip(raw / (self.rule.maximum or 1.0), 0.0, 1.0)

    def sample_pixels(self, max_side: int = 512) -> np.ndarray:
        """(C, h, w) decimated view of the scene (for percentile normalisation)."""
        scale = max(1.0, max(self.height, self.width) / max_side)
        shape = (self.count, max(1, int(self.height / scale)), max(1, int(self.width / scale)))
        return self._handle("scene", self.path).read(self.bands, out_shape=shape)


def _read_picture(path: Path) -> np.ndarray:

    try:
        with Image.open(path) as im:
            return np.asarray(im)
    except (UnidentifiedImageError, OSError) as exc:
        raise RasterReadError(f"{path}: not a readable image ({exc.__class__.__name__})") from None


class ImageTile:
    """A DeepGlobe-style tile: ``<id>_sat.jpg|png`` + ``<id>_mask.png`` (road by the one
    road-mask rule, :class:`geoseg.io.grid.RoadRule`)."""

    dtype = "uint8"

    def __init__(
        self, image: str | Path, mask: str | Path, *, bands: Optional[list[int]] = None
    ) -> None:

        self.path, self.mask_path = Path(image), Path(mask)
        self.name = self.path.name
        try:
            with Image.open(self.path) as im:
                self.width, self.height = im.size
                nbands = len(im.getbands())
        except OSError as exc:
            raise RasterReadError(f"{self.path}: not a readable image ({exc.__class__.__name__})")
        self.bands = _select_bands(nbands, bands, str(self.path))
        self.count = len(self.bands)

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        image = _read_picture(self.path)
        mask = _read_picture(self.mask_path)
        if image.ndim == 2:
            image = image[:, :, None]
        if mask.shape[:2] != image.shape[:2]:
            raise GridMismatchError(
                f"{self.mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} px but "
                f"{self.name} is {image.shape[1]}x{image.shape[0]} px"
            )
        rows, cols = slices(window)
        image = np.moveaxis(image[rows, cols], -1, 0)[[b - 1 for b in self.bands]]
        # the one road-mask rule: equal channels (DeepGlobe's RGB masks), 0/max, soft
        road = picture_road(mask, str(self.mask_path), "mask")
        return np.ascontiguousarray(image), road[rows, cols].astype(np.uint8)

    def road_density(self, cell: int) -> None:
        return None  # unknown without reading the mask; windows are drawn uniformly

    def sample_pixels(self, max_side: int = 512) -> np.ndarray:
        return self.read(Window(0, 0, self.width, self.height))[0]


class Region:
    """Rows ``[row_off, row_off + height)`` of another source, seen as a source."""

    def __init__(self, source, row_off: int, height: int, tag: str) -> None:
        if not 0 <= row_off < row_off + height <= source.height:
            raise DataError(f"{source.name}: region rows {row_off}+{height} outside the scene")
        self.source, self.row_off, self.path = source, row_off, source.path
        self.height, self.width = height, source.width
        self.count, self.dtype = source.count, source.dtype
        self.name = f"{source.name}[{tag}]"

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        shifted = Window(window.col_off, window.row_off + self.row_off, window.width, window.height)
        return self.source.read(shifted)

    def road_density(self, cell: int) -> Optional[np.ndarray]:
        full = self.source.road_density(cell)
        if full is None:
            return None
        start = self.row_off // cell
        stop = -(-(self.row_off + self.height) // cell)
        return full[start:stop]

    def sample_pixels(self, max_side: int = 512) -> np.ndarray:
        return self.source.sample_pixels(max_side)
