"""Raster input and output: open and validate scenes, windowed reads, output profiles.

Scenes are never read whole: :func:`read_window` reads one window (reflect-padded where it
runs past the scene border) together with its validity mask, taken from the nodata value,
an internal/per-dataset mask or an alpha band (GDAL's mask flags, via ``read_masks``).
Outputs are single-band GeoTIFFs on the scene's grid, tiled 256×256, compressed (DEFLATE by
default, :data:`COMPRESSIONS`) and carrying an internal GDAL mask where the input was nodata
(:func:`output_profile`); :func:`write_cog` rewrites one as a Cloud-Optimized GeoTIFF.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoseg.errors import BandMismatchError, OutputError, RasterReadError
from geoseg.io.files import note_input, readable_path

log = logging.getLogger(__name__)

BLOCK = 256  # output tile size (GeoTIFF blocks), also the writer's row granularity
SUPPORTED_KINDS = "uifb"  # numpy dtype kinds geoseg reads: unsigned, signed, float, bool
COMPRESSIONS = ("deflate", "zstd", "lzw", "none")  # output compressions geoseg writes


@dataclass(frozen=True)
class Scene:
    """What prediction needs to know about an input raster (no pixels)."""

    path: Path
    crs: Any  # rasterio CRS or None
    transform: Any  # affine.Affine
    width: int
    height: int
    count: int  # bands in the file
    dtype: str
    nodata: float | None
    bands: tuple[int, ...]  # 1-based band indexes actually read
    has_mask: bool  # nodata value, internal mask or alpha: some pixels may be invalid

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width


def parse_bands(text: str | Sequence[int] | None) -> tuple[int, ...] | None:
    """``"1,2,3"`` or ``[1, 2, 3]`` -> ``(1, 2, 3)``; None stays None (all bands)."""
    if text is None:
        return None
    if isinstance(text, str):
        try:
            items = [int(t) for t in text.replace(" ", "").split(",") if t]
        except ValueError:
            raise BandMismatchError(
                f"bands {text!r}: expected 1-based band numbers separated by commas, e.g. 1,2,3"
            ) from None
    else:
        items = [int(t) for t in text]
    if not items:
        raise BandMismatchError("bands: no band numbers given")
    return tuple(items)


def open_raster(path: str | Path, what: str = "file"):
    """rasterio.open with geoseg's one-line errors for the usual ways a file is bad.

    `what` names the file in the "not found" message ("scene", "mask"...).  rasterio's
    NotGeoreferencedWarning is silenced: callers that care about a missing CRS say so
    in their own words (a warning log line).
    """
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    path = readable_path(path)  # an output staged earlier in this run reads from its temp
    note_input(path)
    if not path.exists():
        raise RasterReadError(f"{path}: {what} not found")
    if path.is_dir():
        raise RasterReadError(f"{path}: is a folder, not a raster")
    if path.stat().st_size == 0:
        raise RasterReadError(f"{path}: file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioIOError as exc:
        reason = str(exc).splitlines()[0]
        if "not recognized" in reason:
            raise RasterReadError(f"{path}: not a raster GDAL can read") from None
        raise RasterReadError(f"{path}: cannot open raster ({reason})") from None


def open_scene(path: str | Path, bands: Sequence[int] | str | None = None) -> Scene:
    """Open and validate a scene: readable, non-empty, supported dtype, bands that exist.

    The bottom-right block is read as a cheap check for truncated files (a cut-off TIFF
    loses its last blocks first).  A scene without CRS only logs a warning: prediction
    works in pixel space and the outputs simply carry no CRS either.
    """
    from rasterio.enums import MaskFlags
    from rasterio.errors import RasterioIOError
    from rasterio.windows import Window

    path = Path(path)
    selected = parse_bands(bands)
    with open_raster(path) as src:
        if src.width == 0 or src.height == 0 or src.count == 0:
            raise RasterReadError(
                f"{path}: raster is empty ({src.width}×{src.height}, {src.count} bands)"
            )
        dtypes = set(src.dtypes)
        if len(dtypes) > 1:
            raise RasterReadError(f"{path}: bands have different data types {sorted(dtypes)}")
        dtype = src.dtypes[0]
        if np.dtype(dtype).kind not in SUPPORTED_KINDS:
            raise RasterReadError(f"{path}: unsupported data type {dtype}")
        if selected is None:
            selected = tuple(range(1, src.count + 1))
        bad = [b for b in selected if not 1 <= b <= src.count]
        if bad:
            raise BandMismatchError(
                f"{path}: band {bad[0]} does not exist (the raster has {src.count} band"
                f"{'s' if src.count != 1 else ''}, numbered from 1)"
            )
        bh, bw = src.block_shapes[0]
        r0, c0 = (src.height - 1) // bh * bh, (src.width - 1) // bw * bw
        last = Window(c0, r0, src.width - c0, src.height - r0)
        try:
            src.read(window=last)
        except RasterioIOError:
            raise RasterReadError(
                f"{path}: cannot read pixels (truncated or corrupt file)"
            ) from None
        flags = [src.mask_flag_enums[b - 1] for b in selected]
        has_mask = any(MaskFlags.all_valid not in f for f in flags)
        scene = Scene(
            path=path,
            crs=src.crs,
            transform=src.transform,
            width=src.width,
            height=src.height,
            count=src.count,
            dtype=dtype,
            nodata=src.nodata,
            bands=tuple(selected),
            has_mask=has_mask,
        )
    if scene.crs is None:
        log.warning("%s: raster has no CRS; outputs will be in pixel coordinates only", path)
    return scene


def read_pixels(src, scene: Scene, window, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The selected bands in `window` of an open dataset and their validity: the one rule
    for which pixels are data (nodata value, internal mask or alpha via ``read_masks``;
    NaN in float scenes, zeroed).  `where` names the window in the error message."""
    from rasterio.errors import RasterioIOError

    try:
        image = src.read(scene.bands, window=window)
        if scene.has_mask:
            valid = src.read_masks(scene.bands, window=window).any(axis=0)
        else:
            valid = np.ones(image.shape[1:], bool)
    except RasterioIOError:
        raise RasterReadError(
            f"{scene.path}: cannot read pixels at {where} (truncated or corrupt file)"
        ) from None
    if image.dtype.kind == "f":
        nan = np.isnan(image)
        if nan.any():
            valid &= ~nan.any(axis=0)
            image[nan] = 0
    return image, valid


def read_window(
    src, scene: Scene, row_off: int, col_off: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``size``×``size`` window of the selected bands from an open dataset.

    Parts of the window outside the scene are filled by reflection (scenes smaller than a
    tile, never needed for tiles shifted inward).  Returns ``(image (C,size,size) in the
    scene dtype, valid (size,size) bool)``; NaNs in float scenes count as invalid and are
    zeroed.
    """
    from rasterio.windows import Window

    r0, c0 = max(row_off, 0), max(col_off, 0)
    r1, c1 = min(row_off + size, scene.height), min(col_off + size, scene.width)
    win = Window(c0, r0, c1 - c0, r1 - r0)
    image, valid = read_pixels(src, scene, win, f"rows {r0}-{r1}, columns {c0}-{c1}")
    pad = ((r0 - row_off, row_off + size - r1), (c0 - col_off, col_off + size - c1))
    if any(p for pair in pad for p in pair):
        image = np.pad(image, ((0, 0), *pad), mode="symmetric")
        valid = np.pad(valid, pad, mode="symmetric")
    return image, valid


def check_compression(compress: str) -> str:
    """`compress` lower-cased if geoseg writes it, else a ConfigError naming the choices."""
    from geoseg.errors import ConfigError

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
    scene: Scene, dtype: str, compress: str = "deflate", threads: int | None = None
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
        import rasterio
        from rasterio.windows import Window

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
    import rasterio

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
    import rasterio
    import rasterio.shutil

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
    import rasterio
    from rasterio.enums import Resampling

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
    import rasterio
    from rasterio.enums import Resampling

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
        from rasterio.windows import Window

        values = np.concatenate(self.values) if len(self.values) > 1 else self.values[0]
        valid = np.concatenate(self.valid) if len(self.valid) > 1 else self.valid[0]
        window = Window(0, self.top, self.dst.width, rows)
        self.dst.write(values[:rows], 1, window=window)
        if self.masked:
            self.dst.write_mask(np.where(valid[:rows], 255, 0).astype(np.uint8), window=window)
        self.values = [values[rows:]] if values.shape[0] > rows else []
        self.valid = [valid[rows:]] if valid.shape[0] > rows else []
        self.top += rows
