"""Mask and probability inputs for vectorization: a file path or an in-memory array.

Both are opened as :class:`geoseg.io.grid.Raster` and read window by window through a
:class:`~geoseg.io.grid.Reader` (a large mask is never held whole in memory).  Which
pixels are road is the one road-mask rule (:class:`geoseg.io.grid.RoadRule`, the same as
training's and evaluate's); which are data the one validity rule
(:func:`geoseg.io.grid.read_pixels`); whether two rasters share a grid the one
same-grid rule (:func:`geoseg.io.grid.same_grid`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from geoseg.errors import BandMismatchError
from geoseg.io.grid import (
    Reader,
    array_grid,
    check_same_grid,
    open_grid,
    open_mask,
    open_reader,
    road_pixels,
)

GridSource = Reader  # a mask or probability raster opened for windowed reads


@contextlib.contextmanager
def open_road_mask(
    data: str | Path | np.ndarray,
    transform: Any = None,
    crs: Any = None,
    nodata: Any = None,
    scan: bool = True,
) -> Iterator[Reader]:
    """A road mask (path, or 2-D array with `transform`/`crs`/`nodata`) with its rule;
    ``scan=False``: the rule is checked while the blocks are read
    (:func:`geoseg.io.grid.open_mask`, :func:`geoseg.io.grid.settle_rule`)."""
    with open_mask(data, "road mask", transform, crs, nodata, scan=scan) as reader:
        yield reader


@contextlib.contextmanager
def open_prob(data: str | Path | np.ndarray, mask: Reader) -> Iterator[Reader]:
    """A one-band probability raster on the mask's grid (an array takes the mask's)."""
    m = mask.raster
    if isinstance(data, (str, Path)):
        raster = open_grid(data, what="probability raster", warn_no_crs=False)
    else:
        array = np.asarray(data)
        array = array[0] if array.ndim == 3 and array.shape[0] == 1 else array
        if array.ndim != 2:
            raise BandMismatchError(
                f"<array>: a probability raster must be a 2-D array (one band), "
                f"got shape {array.shape}"
            )
        raster = array_grid(array, "probability raster", m.transform, m.crs)
    if raster.count != 1:
        raise BandMismatchError(
            f"{raster.label}: a probability raster must have one band, this raster has "
            f"{raster.count}"
        )
    check_same_grid(m, raster, "probability raster")
    with open_reader(raster) as reader:
        yield reader


def mask_block(source: Reader, rows: slice, cols: slice) -> np.ndarray:
    """Road (bool) in a window of a road mask (the one road-mask rule; nodata is not road)."""
    return road_pixels(source, rows, cols)


def prob_block(source: Reader, rows: slice, cols: slice) -> np.ndarray:
    """A window of a probability raster as float32 in [0, 1] (uint8 is scaled by 1/255).

    Invalid pixels (nodata, masked, NaN) become NaN so they drop out of the per-line means.
    """
    values, valid = source.read(rows, cols)
    out = values[0].astype(np.float32)
    if values.dtype == np.uint8:
        out /= 255.0
    out[~valid] = np.nan
    return out
