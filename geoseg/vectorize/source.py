"""Mask and probability inputs for vectorization: a file path or an in-memory array.

Both are wrapped in a :class:`GridSource` that reads windows on demand, so a large mask
is never held whole in memory; values are validated block by block as they are read.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoseg.errors import BandMismatchError, GridMismatchError, RasterReadError
from geoseg.io.raster import open_raster

log = logging.getLogger(__name__)

MASK_VALUES = (0, 1, 255)


@dataclass
class GridSource:
    """A single-band raster (file or array) on a known grid, read by windows."""

    name: str
    shape: tuple[int, int]
    transform: Any  # affine.Affine
    crs: Any  # rasterio CRS or None
    nodata: float | None
    read: Callable[[slice, slice], np.ndarray]  # (row slice, col slice) -> 2-D array


@contextlib.contextmanager
def open_grid(
    data: str | Path | np.ndarray, what: str, transform=None, crs=None, nodata: float | None = None
) -> Iterator[GridSource]:
    """Wrap a raster path or a 2-D array as a :class:`GridSource` (one band only).

    For arrays, `transform` defaults to the identity (pixel coordinates).
    """
    if isinstance(data, (str, Path)):
        path = Path(data)
        with open_raster(path) as src:
            if src.count != 1:
                raise BandMismatchError(
                    f"{path}: a {what} must have one band, this raster has {src.count}"
                )
            if src.width == 0 or src.height == 0:
                raise RasterReadError(f"{path}: raster is empty")
            from rasterio.errors import RasterioIOError
            from rasterio.windows import Window

            def read(rows: slice, cols: slice) -> np.ndarray:
                window = Window(
                    cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start
                )
                try:
                    return src.read(1, window=window)
                except RasterioIOError:
                    raise RasterReadError(
                        f"{path}: cannot read pixels (truncated or corrupt file)"
                    ) from None

            with warnings.catch_warnings():  # NotGeoreferencedWarning: we warn ourselves
                warnings.simplefilter("ignore")
                transform_ = src.transform
            yield GridSource(
                str(path), (src.height, src.width), transform_, src.crs, src.nodata, read
            )
        return
    array = np.asarray(data)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise BandMismatchError(
            f"<array>: a {what} must be a 2-D array (one band), got shape {array.shape}"
        )
    if array.size == 0:
        raise RasterReadError(f"<array>: {what} is empty (shape {array.shape})")
    from affine import Affine
    from rasterio.crs import CRS

    transform = Affine.identity() if transform is None else transform
    crs = None if crs is None else CRS.from_user_input(crs)
    yield GridSource(
        "<array>", array.shape, transform, crs, nodata, lambda rows, cols: array[rows, cols]
    )


def mask_block(source: GridSource, rows: slice, cols: slice) -> np.ndarray:
    """Read a window of a road mask as bool, checking it really is a 0/1 or 0/255 mask."""
    values = source.read(rows, cols)
    valid = None
    if source.nodata is not None and not np.isnan(source.nodata):
        valid = values != source.nodata
    elif values.dtype.kind == "f":
        valid = ~np.isnan(values)
    checked = values if valid is None else values[valid]
    if values.dtype == bool or checked.size == 0:
        bad_value = None
    elif values.dtype == np.uint8:  # fast path: two comparisons, no sort or histogram
        odd = (checked > 1) & (checked < 255)
        bad_value = checked[odd].flat[0] if odd.any() else None
    else:
        ok = np.isin(checked, MASK_VALUES)
        bad_value = None if ok.all() else checked[~ok].flat[0]
    if bad_value is not None:
        raise RasterReadError(
            f"{source.name}: not a road mask (found value {bad_value:g}; expected only 0/1 "
            f"or 0/255) — threshold a probability raster first, or pass it with --prob"
        )
    road = values > 0
    if valid is not None:
        road &= valid
    return road


def prob_block(source: GridSource, rows: slice, cols: slice) -> np.ndarray:
    """Read a window of a probability raster as float32 in [0, 1] (uint8 is scaled by 1/255).

    Nodata becomes NaN so it drops out of the per-line means.
    """
    values = source.read(rows, cols)
    out = values.astype(np.float32)
    if values.dtype == np.uint8:
        out /= 255.0
    if source.nodata is not None and not np.isnan(source.nodata):
        out[values == source.nodata] = np.nan
    return out


def check_same_grid(mask: GridSource, prob: GridSource) -> None:
    """A probability raster must share the mask's grid (shape and transform)."""
    if mask.shape != prob.shape or not mask.transform.almost_equals(prob.transform):
        raise GridMismatchError(
            f"{prob.name}: probability raster grid ({prob.shape[1]}×{prob.shape[0]}) does "
            f"not match the mask {mask.name} ({mask.shape[1]}×{mask.shape[0]}, same transform "
            "required)"
        )
