"""The one raster model of geoseg: what a raster is, which pixels are data, which are road.

Every stage — training (``data/``), prediction (``predict``, ``inference/``), scoring
(``metrics/``, ``evaluate``), vectorization (``vectorize/``) and ``batch`` — describes its
rasters with :class:`Raster` and reads them through the rules here, defined once:

- **Opening** (:func:`open_raster`, :func:`open_grid`): missing, empty, truncated, corrupt
  or unreadable files, mixed band types and bands that do not exist are one-line
  :class:`~geoseg.errors.GeoSegError` messages naming the file.
- **Bands**: ``bands`` are the 1-based band indexes read (:func:`parse_bands`).
- **Validity** (:func:`read_pixels`): a pixel is data unless GDAL's mask says otherwise
  (its nodata value, an internal/per-dataset mask or an alpha band, all via
  ``read_masks``) or it is NaN or ±inf in a float raster (tagged as nodata or not).  An
  in-memory array has its `nodata` value, NaN and ±inf.
- **Same grid** (:func:`same_grid`, :func:`check_same_grid`): see :func:`same_grid`.
- **Road masks** (:func:`road_rule`): see :class:`RoadRule`.
- **No CRS** (:func:`display_transform`): see that function.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, MaskFlags
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from geoseg.errors import BandMismatchError, DataError, GridMismatchError, RasterReadError
from geoseg.io.files import note_input, readable_path
from geoseg.io.windows import row_spans

log = logging.getLogger(__name__)

SUPPORTED_KINDS = "uifb"  # numpy dtype kinds geoseg reads: unsigned, signed, float, bool
ARRAY_NAME = "<array>"
# QGIS draws a raster without a geotransform with GDAL's default transform but a pixel
# height of -1 (qgsgdalprovider.cpp: "we need to use a pixel size of (1,-1), but GDAL
# returns (1,1)"): x = column, y = -row, the image's top-left corner at (0, 0).
QGIS_PIXEL_SPACE = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
SCAN_PIXELS = 1 << 22  # pixels per read while scanning a mask's values (~4 MB for uint8)


@dataclass(frozen=True)
class Raster:
    """One raster as every stage sees it (no pixels): its file (or in-memory array), grid,
    band type, the bands read and whether some pixels may be invalid."""

    path: Path
    crs: Any  # rasterio CRS or None
    transform: Any  # affine.Affine
    width: int
    height: int
    count: int  # bands in the file
    dtype: str
    nodata: float | None
    bands: tuple[int, ...]  # 1-based band indexes actually read
    has_mask: bool  # nodata value, internal mask, alpha or NaN: some pixels may be invalid
    array: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def label(self) -> str:
        """How messages name it: the path, or ``<array>`` for an in-memory raster."""
        return str(self.path)

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    def same_grid(self, other: Raster) -> bool:
        return same_grid(self, other)

    def with_bands(self, bands: Sequence[int]) -> Raster:
        return replace(self, bands=tuple(bands))


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


def open_raster(path: str | Path, what: str = "file") -> Any:
    """rasterio.open with geoseg's one-line errors for the usual ways a file is bad.

    `what` names the file in the "not found" message ("scene", "mask"...).  rasterio's
    NotGeoreferencedWarning is silenced: callers that care about a missing CRS say so
    in their own words (a warning log line).
    """
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


def describe(src: Any, path: Path, bands: Sequence[int] | None = None) -> Raster:
    """The :class:`Raster` of an open dataset, validated: non-empty, one supported band
    type, bands that exist; the bottom-right block is read as a cheap check for truncated
    files (a cut-off TIFF loses its last blocks first)."""
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
    selected = tuple(range(1, src.count + 1)) if bands is None else tuple(bands)
    bad = [b for b in selected if not 1 <= b <= src.count]
    if bad:
        raise BandMismatchError(
            f"{path}: band {bad[0]} does not exist (the raster has {src.count} band"
            f"{'s' if src.count != 1 else ''}, numbered from 1)"
        )
    bh, bw = src.block_shapes[0]
    r0, c0 = (src.height - 1) // bh * bh, (src.width - 1) // bw * bw
    try:
        src.read(window=Window(c0, r0, src.width - c0, src.height - r0))
    except RasterioIOError:
        raise RasterReadError(
            f"{path}: cannot read its pixels (truncated or corrupt file)"
        ) from None
    flags = [src.mask_flag_enums[b - 1] for b in selected]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        transform = src.transform
    return Raster(
        path=path,
        crs=src.crs,
        transform=transform,
        width=src.width,
        height=src.height,
        count=src.count,
        dtype=dtype,
        nodata=src.nodata,
        bands=selected,
        # a float raster may hold NaN/±inf, never data (read_pixels): its outputs need a mask
        has_mask=any(MaskFlags.all_valid not in f for f in flags) or np.dtype(dtype).kind == "f",
    )


def open_grid(
    path: str | Path,
    bands: Sequence[int] | str | None = None,
    what: str = "raster",
    warn_no_crs: bool = True,
) -> Raster:
    """Open and validate a raster file (see :func:`describe`); a raster without a CRS
    logs one warning (its outputs carry no CRS either) unless `warn_no_crs` is False."""
    path = Path(path)
    with open_raster(path, what) as src:
        raster = describe(src, path, parse_bands(bands))
    if raster.crs is None and warn_no_crs:
        log.warning("%s: raster has no CRS; outputs will be in pixel coordinates only", path)
    return raster


def array_grid(
    data: np.ndarray,
    what: str = "raster",
    transform: Any = None,
    crs: Any = None,
    nodata: float | None = None,
    name: str = ARRAY_NAME,
) -> Raster:
    """An in-memory array as a :class:`Raster`: (h, w) or (bands, h, w); `transform`
    defaults to GDAL's identity (pixel coordinates, as for a file without geotransform)."""
    array = np.asarray(data)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise BandMismatchError(
            f"{name}: a {what} must be a 2-D array (or bands × rows × columns), "
            f"got shape {array.shape}"
        )
    if array.size == 0:
        raise RasterReadError(f"{name}: {what} is empty (shape {array.shape})")
    if array.dtype.kind not in SUPPORTED_KINDS:
        raise RasterReadError(f"{name}: unsupported data type {array.dtype}")
    has_nodata = nodata is not None and not np.isnan(nodata)
    return Raster(
        path=Path(name),
        crs=None if crs is None else CRS.from_user_input(crs),
        transform=Affine.identity() if transform is None else transform,
        width=array.shape[2],
        height=array.shape[1],
        count=array.shape[0],
        dtype=str(array.dtype),
        nodata=nodata,
        bands=tuple(range(1, array.shape[0] + 1)),
        has_mask=has_nodata or array.dtype.kind == "f",
        array=array,
    )


# --- the same-grid rule -------------------------------------------------------------


def transforms_equal(a: Any, b: Any) -> bool:
    """Affine transforms equal to a billionth of a pixel."""
    return bool(a.almost_equals(b, precision=1e-9 * max(1.0, abs(a.a), abs(a.e))))


def same_grid(a: Raster, b: Raster) -> bool:
    """The one same-grid rule: two rasters share a grid when they have the same size
    and, where both carry a CRS, the same CRS and (to 1e-9 px) the same transform.  A
    raster without a CRS (a PNG/JPEG mask) is matched to the other pixel for pixel."""
    if a.shape != b.shape:
        return False
    if a.crs is None or b.crs is None:
        return True
    return bool(a.crs == b.crs) and transforms_equal(a.transform, b.transform)


def grid_text(r: Raster) -> str:
    t = r.transform
    return (
        f"{r.width}x{r.height} px, {r.crs.to_string() if r.crs else 'no CRS'}, "
        f"origin {t.c:.6g},{t.f:.6g}, pixel {t.a:.6g}"
    )


def check_same_grid(a: Raster, b: Raster, what: str = "raster") -> None:
    """GridMismatchError naming `b` (a `what`) and `a` unless :func:`same_grid`."""
    if not same_grid(a, b):
        raise GridMismatchError(
            f"{b.label}: {what} grid ({grid_text(b)}) differs from {a.label} ({grid_text(a)})"
        )


# --- windowed reads and validity ---------------------------------------------------


def read_pixels(src: Any, scene: Raster, window: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The selected bands in `window` of an open dataset (None for an in-memory raster)
    and their validity: the one rule for which pixels are data (nodata value, internal
    mask or alpha via ``read_masks``; NaN and ±inf in float rasters, tagged or not,
    zeroed).  `where` names the window in the error message."""
    if scene.array is not None:
        rows, cols = window.toslices()
        image = scene.array[[b - 1 for b in scene.bands], rows, cols]
        valid = np.ones(image.shape[1:], bool)
        if scene.nodata is not None and not np.isnan(scene.nodata):
            valid &= ~np.all(image == scene.nodata, axis=0)
    else:
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
        bad = ~np.isfinite(image)
        if bad.any():
            valid &= ~bad.any(axis=0)
            image = image.copy() if scene.array is not None else image
            image[bad] = 0
    return image, valid


def read_window(
    src: Any, scene: Raster, row_off: int, col_off: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``size``×``size`` window of the selected bands from an open dataset.

    Parts of the window outside the scene are filled by reflection (scenes smaller than a
    tile, never needed for tiles shifted inward).  Returns ``(image (C,size,size) in the
    scene dtype, valid (size,size) bool)``; NaN/±inf in float scenes count as invalid and are
    zeroed.
    """
    r0, c0 = max(row_off, 0), max(col_off, 0)
    r1, c1 = min(row_off + size, scene.height), min(col_off + size, scene.width)
    win = Window(c0, r0, c1 - c0, r1 - r0)
    image, valid = read_pixels(src, scene, win, f"rows {r0}-{r1}, columns {c0}-{c1}")
    pad = ((r0 - row_off, row_off + size - r1), (c0 - col_off, col_off + size - c1))
    if any(p for pair in pad for p in pair):
        image = np.pad(image, ((0, 0), *pad), mode="symmetric")
        valid = np.pad(valid, pad, mode="symmetric")
    return image, valid


class Reader:
    """An open :class:`Raster`: ``read(rows, cols)`` gives the selected bands and their
    validity for a window given as row and column slices; a road mask opened with
    :func:`open_mask` also carries its :class:`RoadRule` (`rule`) and, when opened without
    the upfront scan, the running check of that rule (`check`, see :func:`settle_rule`)."""

    def __init__(
        self,
        raster: Raster,
        src: Any = None,
        rule: RoadRule | None = None,
        check: _Scan | None = None,
    ) -> None:
        self.raster, self.src, self.rule, self.check = raster, src, rule, check

    @property
    def name(self) -> str:
        return self.raster.label

    @property
    def shape(self) -> tuple[int, int]:
        return self.raster.shape

    def read(self, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
        window = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
        where = f"rows {rows.start}-{rows.stop}, columns {cols.start}-{cols.stop}"
        return read_pixels(self.src, self.raster, window, where)


@contextlib.contextmanager
def open_reader(raster: Raster) -> Iterator[Reader]:
    """A :class:`Reader` on `raster` (its file opened for the duration)."""
    if raster.array is not None:
        yield Reader(raster)
        return
    with open_raster(raster.path) as src:
        yield Reader(raster, src)


def row_bands(height: int, width: int, bands: int = 1) -> Iterator[slice]:
    """Row slices of about :data:`SCAN_PIXELS` pixels each, top to bottom."""
    for top, bottom in row_spans(height, SCAN_PIXELS // max(1, width * bands)):
        yield slice(top, bottom)


def has_valid_pixels(raster: Raster) -> bool:
    """Whether any pixel of `raster` is data (the one validity rule,
    :func:`geoseg.io.grid.read_pixels`).  Read row band by row band and stopped at the
    first valid pixel, so a usable scene costs one band of rows; a raster that cannot
    have invalid pixels (no nodata, mask or alpha, not float) is not read at all."""
    if not raster.has_mask and np.dtype(raster.dtype).kind != "f":
        return True
    with open_reader(raster) as reader:
        for rows in row_bands(raster.height, raster.width, len(raster.bands)):
            if reader.read(rows, slice(0, raster.width))[1].any():
                return True
    return False


# --- the road-mask rule ------------------------------------------------------------


@dataclass(frozen=True)
class RoadRule:
    """The one road-mask rule, for training labels, scoring and vectorization alike.

    - A multi-band mask is accepted when its bands are equal (DeepGlobe's RGB masks);
      band 1 is then read.  Bands that differ are not a road mask (an error naming
      the file).  An alpha band takes part in validity only.
    - A mask whose valid values are {0, 1} or {0, max} is binary as it is: road where
      non-zero.
    - Any other mask (soft, anti-aliased: values between 0 and the largest one) is road
      where the value is at least half of the mask's largest valid value.

    The two cases are one test: road ⇔ ``value >= maximum / 2`` (for a binary mask that
    is "non-zero"); a mask whose largest value is 0 (or below) has no road.  Invalid
    pixels (:func:`read_pixels`) are never road.

    A binary rule's road pixels do not depend on its maximum (road ⇔ non-zero), so a
    single pass over a mask may assume it binary (:data:`ASSUMED_BINARY`) and check the
    values it reads (:func:`open_mask` with ``scan=False``, :func:`settle_rule`); only a
    soft mask then needs its pixels read again under the rule the check found.
    """

    maximum: float  # largest valid value of the mask (0: no road anywhere)
    soft: bool  # values other than 0 and the maximum occur

    @property
    def cut(self) -> float:
        return self.maximum / 2.0

    def road(self, values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Road pixels (bool) of mask values (h, w) or (bands, h, w): band 1 is used."""
        if values.ndim == 3:
            values = values[0]
        if self.maximum <= 0:
            road = np.zeros(values.shape, bool)
        elif self.soft:
            road = values >= self.cut
        else:
            road = values > 0
        return road if valid is None else road & valid

    def describe(self) -> str:
        if not self.soft:
            return f"binary mask (0/{self.maximum:g})"
        return f"soft mask (0..{self.maximum:g}): road at >= {self.cut:g}"


def check_mask_nodata(raster: Raster, what: str = "mask") -> None:
    """Refuse a road mask whose nodata value is 0, its non-road value (every
    :class:`RoadRule` reads 0 as not road): its non-road pixels are all nodata, so only
    roads would be left to score or learn from (a 0/255 mask after some GDAL tools)."""
    if raster.nodata is not None and raster.nodata == 0:
        raise DataError(
            f"{raster.label}: nodata is 0, the {what}'s non-road value, so no non-road pixel "
            f"is left to score (unset it: gdal_edit.py -unsetnodata {raster.label})"
        )


# The rule assumed before a mask's values are known (road ⇔ non-zero): every binary
# rule gives the same road pixels, whatever its maximum (see settle_rule).
ASSUMED_BINARY = RoadRule(maximum=1.0, soft=False)


class _Scan:
    """Running summary of a mask's valid values: largest value, values between.  Adding
    the same pixels again changes nothing (overlapping windows may be added)."""

    def __init__(self) -> None:
        self.maximum = -np.inf
        self.nonzero: set[float] = set()  # distinct non-zero values, while at most 2
        self.soft = False

    def add(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        if values.dtype == bool:
            values = values.view(np.uint8)
        if values.dtype == np.uint8:  # exact and fast: a histogram
            seen = np.flatnonzero(np.bincount(values.ravel(), minlength=256))
            top, nz = float(seen[-1]), seen[seen != 0]
            if nz.size > 1:
                self.soft = True
            elif nz.size:
                self.nonzero.add(float(nz[0]))
        else:
            top = float(values.max())
            nz = values[values != 0]
            if nz.size:
                lo, hi = float(nz.min()), float(nz.max())
                if lo != hi:
                    self.soft = True
                else:
                    self.nonzero.add(lo)
        if len(self.nonzero) > 1:
            self.soft = True
        self.maximum = max(self.maximum, top)

    def rule(self) -> RoadRule:
        maximum = 0.0 if not np.isfinite(self.maximum) else self.maximum
        return RoadRule(maximum=maximum, soft=self.soft and maximum > 0)


def _mask_bands(src: Any, raster: Raster) -> tuple[int, ...]:
    """A mask's value bands: all but an alpha band."""
    if src is None:
        return raster.bands
    interp = src.colorinterp
    bands = tuple(b for b in raster.bands if interp[b - 1] != ColorInterp.alpha)
    return bands or raster.bands


def road_rule(reader: Reader, what: str = "road mask", valid: np.ndarray | None = None) -> RoadRule:
    """Scan a mask once (row bands of ~4 Mpx) and return its :class:`RoadRule`; a
    multi-band mask whose bands differ is a BandMismatchError naming the file.  `valid`
    (h, w) further restricts which pixels count (a picture's alpha)."""
    raster = reader.raster
    bands = _mask_bands(reader.src, raster)
    scan_raster = raster.with_bands(bands)
    scan = _Scan()
    for rows in row_bands(raster.height, raster.width, len(bands)):
        cols = slice(0, raster.width)
        values, ok = Reader(scan_raster, reader.src).read(rows, cols)
        if valid is not None:
            ok &= valid[rows]
        for k in range(1, values.shape[0]):
            differs = (values[k] != values[0]) & ok
            if differs.any():
                r, c = np.argwhere(differs)[0]
                raise BandMismatchError(
                    f"{raster.label}: not a {what} (band {bands[k]} differs from band "
                    f"{bands[0]} at row {rows.start + r}, column {c}; a {what} has one "
                    "band, or equal bands)"
                )
        scan.add(values[0][ok])
    rule = scan.rule()
    log.debug("%s: %s", raster.label, rule.describe())
    return rule


def picture_road(picture: np.ndarray, name: str, what: str = "road mask") -> np.ndarray:
    """Road (bool, h×w) of a whole mask picture held in memory, (h, w) or (h, w,
    channels) as PIL gives it (a grey+alpha or RGBA picture's last channel is alpha)."""
    bands = picture[None] if picture.ndim == 2 else np.moveaxis(picture, -1, 0)
    valid = None
    if bands.shape[0] in (2, 4):
        valid, bands = bands[-1] > 0, bands[:-1]
    raster = array_grid(bands, what, name=name)
    rule = road_rule(Reader(raster), what, valid)
    return rule.road(bands[0], valid)


@contextlib.contextmanager
def open_mask(
    data: str | Path | np.ndarray,
    what: str = "road mask",
    transform: Any = None,
    crs: Any = None,
    nodata: float | None = None,
    scan: bool = True,
) -> Iterator[Reader]:
    """A road mask (file or array) opened for windowed reads, with its :class:`RoadRule`
    (``reader.rule``, from one scan of the mask); the reader then reads band 1 only.

    ``scan=False`` (a caller that reads every pixel once anyway, such as vectorization)
    skips the upfront scan of a one-band mask: ``reader.rule`` is then
    :data:`ASSUMED_BINARY` and :func:`road_pixels` checks the values it reads; once every
    pixel has been read, :func:`settle_rule` says whether the road pixels stand or must
    be read again (a soft mask).  Nothing about the file is trusted: a mask tagged as
    geoseg's 0/1 product but holding 0/255 or soft values is read by the rule its
    values give.  A multi-band mask is always scanned first (its bands must be equal)."""
    if isinstance(data, (str, Path)):
        raster = open_grid(data, what="file", warn_no_crs=False)
    else:
        raster = array_grid(data, what, transform, crs, nodata)
    with open_reader(raster) as reader:
        bands = _mask_bands(reader.src, raster)
        if scan or len(bands) > 1:
            rule, check = road_rule(reader, what), None
        else:
            rule, check = ASSUMED_BINARY, _Scan()
        yield Reader(raster.with_bands(bands[:1]), reader.src, rule, check)


def road_pixels(reader: Reader, rows: slice, cols: slice) -> np.ndarray:
    """Road (bool) in a window of a mask opened with :func:`open_mask` (the values read
    also go to its running check, if it has one)."""
    if reader.rule is None:
        raise ValueError(f"{reader.name}: not opened as a road mask (open_mask)")
    values, valid = reader.read(rows, cols)
    if reader.check is not None:
        reader.check.add(values[0] if valid.all() else values[0][valid])
    return reader.rule.road(values, valid)


def rule_disproved(reader: Reader) -> bool:
    """True once the running check of a mask opened with ``scan=False`` has found it
    soft: the road read under the assumed binary rule will be read again, so work on it
    can be skipped (reading goes on, so the check still sees every pixel)."""
    return reader.check is not None and reader.check.soft


def settle_rule(reader: Reader) -> bool:
    """For a mask opened with ``open_mask(..., scan=False)`` whose every pixel has been
    read through :func:`road_pixels`: replace the assumed rule by the one its values
    give (``reader.rule``) and say whether the road pixels read under the assumption
    stand — True for a binary mask (any maximum), False for a soft one, whose pixels
    must be read again.  True (and nothing changes) for a mask scanned upfront."""
    if reader.check is None:
        return True
    rule, reader.check = reader.check.rule(), None
    reader.rule = rule
    log.debug("%s: %s", reader.name, rule.describe())
    return not rule.soft


# --- the no-CRS rule ---------------------------------------------------------------


def is_default_transform(transform: Any) -> bool:
    """GDAL's transform for a raster without geotransform (identity, rows down)."""
    return bool(transform.almost_equals(Affine.identity()))


def display_transform(raster: Raster) -> Any:
    """The transform that places `raster`'s pixels where GIS software draws them — the
    one no-CRS rule.

    With a CRS: its own transform.  Without one (a DeepGlobe PNG mask): if it has no
    geotransform (GDAL's default identity), QGIS's pixel space, ``x = column, y = -row``
    (:data:`QGIS_PIXEL_SPACE`), so vectors drawn there overlay the image — a pixel
    centre ``(row r, column c)`` is at ``(c + 0.5, -(r + 0.5))``; if it has a
    geotransform but no CRS (a world file, a GeoTIFF without SRS), that transform, as
    QGIS draws it there too.  Either way no CRS is claimed and lengths are counted in
    pixels (``length_px``), never metres.
    """
    if raster.crs is None and is_default_transform(raster.transform):
        return QGIS_PIXEL_SPACE
    return raster.transform
