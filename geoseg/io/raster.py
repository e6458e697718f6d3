"""Raster output (and, re-exported from :mod:`geoseg.io.grid`, input): output profiles.

Inputs follow the one raster model of :mod:`geoseg.io.grid` (opening, bands, validity,
windowed reads; ``Scene`` is its :class:`~geoseg.io.grid.Raster`); its names stay
importable from here.
Outputs are single-band GeoTIFFs on the scene's grid, tiled 256×256, compressed (DEFLATE by
default, :data:`COMPRESSIONS`) and carrying an internal GDAL mask where the input was nodata
(:func:`output_profile`); :func:`write_cog` rewrites one as a Cloud-Optimized GeoTIFF.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import Resampling
from rasterio.windows import Window

from geoseg.errors import ConfigError, OutputError
from geoseg.io.files import readable_path
from geoseg.io.grid import (
    SUPPORTED_KINDS,
    Raster,
    open_grid,
    open_raster,
    parse_bands,
    read_pixels,
    read_window,
)

log = logging.getLogger(__name__)

__all__ = [
    "BLOCK",
    "COMPRESSIONS",
    "SUPPORTED_KINDS",
    "RowWriter",
    "Scene",
    "build_overviews",
    "check_compression",
    "gdal_env",
    "gdal_threads",
    "open_raster",
    "open_scene",
    "output_profile",
    "parse_bands",
    "raster_verifier",
    "read_decimated",
    "read_pixels",
    "read_window",
    "write_cog",
]

BLOCK = 256  # output tile size (GeoTIFF blocks), also the writer's row granularity
COMPRESSIONS = ("deflate", "zstd", "lzw", "none")  # output compressions geoseg writes


# The input side (the one raster model) lives in io/grid.py; these names stay importable
# from here, where prediction and its writers have always found them.
Scene = Raster  # what prediction needs to know about an input raster (no pixels)


def open_scene(path: str | Path, bands: Sequence[int] | str | None = None) -> Raster:
    """Open and validate a scene (:func:`geoseg.io.grid.open_grid`): readable,
    non-empty, supported dtype, bands that exist, last block decodes.  A scene without
    CRS only logs a warning: prediction works in pixel space and the outputs simply
    carry no CRS either."""
    return open_grid(path, bands, what="file")


def check_compression(compress: str) -> str:
    """`compress` lower-cased if geoseg writes it, else a ConfigError naming the choices."""

    name = str(compress).lower()
    if name not in COMPRESSIONS:
        raise ConfigError(
            f"unknown compression {compress!r} (use one of {', '.join(COMPRESSIONS)})"
        )
    return name


def _compression_options(dtype: str, compress: str) -> dict[str, Any]:
    """Creation options of a compression: the TIFF predictor where it helps (horizontal
    differencing for integers, floating-point predictor for floats), a mid level."""
    compress = check_compression(compress)
    if compress == "none":
        return {"compress": "none"}
    options: dict[str, Any] = {
        "compress": compress,
        "predictor": 3 if np.dtype(dtype).kind == "f" else 2,
    }
    if compress == "deflate":
        options["zlevel"] = 6
    elif compress == "zstd":
        options["zstd_level"] = 9
    return options


def output_profile(
    scene: Raster, dtype: str, compress: str = "deflate", threads: int | None = None
) -> dict[str, Any]:
    """Profile of a single-band output on the scene's grid: tiled, compressed (`compress`,
    one of :data:`COMPRESSIONS`), BigTIFF if needed; `threads` compress blocks in parallel
    (GDAL's NUM_THREADS; None: all cores).

    Nodata is carried by an internal GDAL mask (written with ``write_mask``) rather than a
    nodata value, so uint8 probabilities keep the full 0–255 range.
    """
    return {
        "driver": "GTiff",
        "width": scene.width,
        "height": scene.height,
        "count": 1,
        "dtype": dtype,
        "crs": scene.crs,
        "transform": scene.transform,
        "nodata": None,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        **_compression_options(dtype, compress),
        "num_threads": gdal_threads(threads),
        "bigtiff": "IF_SAFER",
    }


def raster_verifier(profile: dict[str, Any]):
    """A check for :func:`geoseg.io.files.atomic_output`: the written GeoTIFF opens with
    the profile's size, band count and type, and its first and last blocks decode (GDAL
    may report a failed write only at close, or not at all)."""

    def verify(path: Path) -> None:

        with rasterio.open(path) as src:
            got = (src.width, src.height, src.count, src.dtypes[0])
            want = (
                profile["width"],
                profile["height"],
                profile.get("count", 1),
                str(np.dtype(profile["dtype"])),
            )
            if got != want:
                raise OutputError(f"{path}: written raster is {got}, expected {want}")
            bh, bw = src.block_shapes[0]
            r0, c0 = (src.height - 1) // bh * bh, (src.width - 1) // bw * bw
            src.read(1, window=Window(0, 0, min(bw, src.width), min(bh, src.height)))
            src.read(1, window=Window(c0, r0, src.width - c0, src.height - r0))

    return verify


def gdal_threads(threads: int | None) -> str:
    """GDAL's NUM_THREADS value: a count, or ALL_CPUS for None."""
    return "ALL_CPUS" if threads is None else str(max(1, int(threads)))


def gdal_env(cache_mb: int = 64, threads: int | None = None):
    """A rasterio.Env with a bounded block cache and internal masks: RSS must not grow
    with the scene (GDAL's default cache is 5 % of the machine's RAM).  GDAL_NUM_THREADS
    lets GDAL decompress the blocks of one window read, and compress the blocks of one
    row-band write, on `threads` cores (None: all).  rasterio's environment is per
    thread: every thread that reads or writes enters its own."""

    return rasterio.Env(
        GDAL_CACHEMAX=cache_mb, GDAL_TIFF_INTERNAL_MASK=True, GDAL_NUM_THREADS=gdal_threads(threads)
    )


def write_cog(
    src_path: Path,
    dst_path: Path,
    resampling: str,
    compress: str = "deflate",
    threads: int | None = None,
) -> None:
    """Copy a tiled GeoTIFF into a Cloud-Optimized GeoTIFF (GDAL's COG driver): 256-px
    tiles, overviews down to one tile (`resampling`: ``average``, ``nearest``...), the
    internal mask and its overviews, IFDs and tiles in COG order, compressed with
    `compress` on `threads` cores."""

    with rasterio.open(src_path) as src:
        dtype = src.dtypes[0]
    options = {k: v for k, v in _compression_options(dtype, compress).items() if k != "zlevel"}
    if compress == "deflate":
        options["level"] = 6
    elif compress == "zstd":
        options["level"] = options.pop("zstd_level")
    options = {k.upper(): str(v).upper() for k, v in options.items()}
    if options.get("PREDICTOR"):
        options["PREDICTOR"] = "YES"  # the COG driver picks 2 or 3 from the data type
    with gdal_env(threads=threads):
        rasterio.shutil.copy(
            src_path,
            dst_path,
            driver="COG",
            BLOCKSIZE=BLOCK,
            OVERVIEWS="AUTO",
            RESAMPLING=resampling.upper(),
            NUM_THREADS=gdal_threads(threads),
            BIGTIFF="IF_SAFER",
            **options,
        )


def build_overviews(path: Path, resampling: str) -> None:
    """Internal overviews (factors 2, 4, ... down to ~64 px) for quick display in GIS."""

    with rasterio.open(path, "r+") as dst:
        factors, f = [], 2
        while max(dst.width, dst.height) / f > BLOCK / 4:
            factors.append(f)
            f *= 2
        if factors:
            dst.build_overviews(factors, Resampling[resampling])
            dst.update_tags(ns="rio_overview", resampling=resampling)


def read_decimated(
    path: Path, bands: Sequence[int] | None, max_size: int, masks: bool = False
) -> np.ndarray:
    """Bands (or their validity masks) of a raster, decimated so the longer side is at most
    `max_size` px (GDAL uses overviews where present; memory is the small result only)."""

    with rasterio.open(readable_path(path)) as src:
        scale = max(src.width, src.height) / max_size
        if scale > 1:
            shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        else:
            shape = (src.height, src.width)
        indexes = list(bands) if bands else list(range(1, src.count + 1))
        read = src.read_masks if masks else src.read
        return read(indexes, out_shape=(len(indexes), *shape), resampling=Resampling.nearest)


class RowWriter:
    """Write full-width row bands into an open single-band dataset, in whole block rows.

    Rows arrive top to bottom in bands of any height; they are buffered until a block
    boundary so every GeoTIFF block is compressed and written exactly once (GDAL would
    otherwise flush partial blocks and rewrite them).  Memory: < 2 block rows × width.
    """

    def __init__(self, dst, masked: bool) -> None:
        self.dst = dst
        self.masked = masked
        self.top = 0  # first row not yet written
        self.values: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []

    def write(self, values: np.ndarray, valid: np.ndarray) -> None:
        self.values.append(values)
        self.valid.append(valid)
        buffered = sum(v.shape[0] for v in self.values)
        end = (self.top + buffered) // BLOCK * BLOCK
        if end > self.top:
            self._flush(end - self.top)

    def close(self) -> None:
        buffered = sum(v.shape[0] for v in self.values)
        if buffered:
            self._flush(buffered)
        if self.top != self.dst.height:
            raise RuntimeError(f"wrote {self.top} of {self.dst.height} rows")

    def _flush(self, rows: int) -> None:

        values = np.concatenate(self.values) if len(self.values) > 1 else self.values[0]
        valid = np.concatenate(self.valid) if len(self.valid) > 1 else self.valid[0]
        window = Window(0, self.top, self.dst.width, rows)
        self.dst.write(values[:rows], 1, window=window)
        if self.masked:
            self.dst.write_mask(np.where(valid[:rows], 255, 0).astype(np.uint8), window=window)
        self.values = [values[rows:]] if values.shape[0] > rows else []
        self.valid = [valid[rows:]] if valid.shape[0] > rows else []
        self.top += rows
