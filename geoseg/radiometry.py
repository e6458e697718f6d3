"""The imagery's domain: radiometry and pixel size, recorded at training, checked at prediction.

A model only knows the imagery it was trained on.  Training records that imagery in the
checkpoint (key ``imagery``, plain values)::

    {"dtype": "uint8", "percentiles": [2.0, 98.0],
     "low": [p2 per band], "high": [p98 per band], "gsd_m": 0.5 or None}

measured over the training scenes from decimated reads (valid pixels only); ``gsd_m`` is
the ground sample distance in metres (geographic CRSs converted at the scene's latitude;
None for non-georeferenced images such as DeepGlobe PNGs).

Prediction compares the scene with that record, cheaply (a decimated read of the valid
pixels, :func:`scene_stats`), and applies one rule, the ``radiometry`` mode:

- ``auto`` (default): when the scene's dtype differs from the training imagery's, or an
  end of a band's 2–98 % interval lies more than :data:`RANGE_TOLERANCE` of the training
  band's 2–98 % span away from the training one, the scene is rescaled band by band:
  the linear map taking its 2nd/98th percentiles onto the training's.  Otherwise the
  scene is fed as it is.  A band without spread (its 2nd and 98th percentiles equal: a
  constant or one-pixel scene) has no stretch to map: it is fed as it is (:func:`flat`).
- ``match``: always rescale onto the training distribution.
- ``none``: never rescale (the checkpoint's normaliser alone); a scene whose values would
  clip at the normaliser's range is still reported in a warning.

The map is folded into the checkpoint's :class:`~geoseg.normalize.Normalizer` (both are
linear), so a scene is rescaled exactly once, tile by tile, with no extra pass.  In a
batch, :func:`area_stats` pools the samples of all scenes so every scene gets the same map
and no seams appear between scenes.  Checkpoints without a record (older or imported
ones) are compared with their normaliser's ``[low, high]`` instead, with a warning.

Pixel size: a scene whose pixel is more than :data:`GSD_TOLERANCE` finer or coarser than
the training imagery's gets a warning; with ``resample_to_training`` every tile is resampled
to the training pixel size before the model and its logits back onto the scene's grid
(:class:`ResampledModel`), so outputs stay on the scene's own grid.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import Resampling
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.windows import Window

from geoseg.checkpoint import Checkpoint
from geoseg.errors import ConfigError, GeoSegError, RasterReadError
from geoseg.io.grid import has_valid_pixels
from geoseg.io.raster import open_raster, parse_bands
from geoseg.normalize import Normalizer

log = logging.getLogger(__name__)

MODES = ("auto", "match", "none")
PERCENTILES = (2.0, 98.0)
RANGE_TOLERANCE = 0.25  # of the training band's 2–98 % span
GSD_TOLERANCE = 0.25  # relative: 0.4 m vs 0.5 m training is fine, 0.3 m is not
SAMPLE_SIDE = 512  # decimated read of one scene: at most 512 px on its longer side
AREA_SAMPLE_SIDE = 256  # per scene when pooling a batch
MAX_TRAINING_SOURCES = 32  # training images sampled (evenly spread) for the record


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"unknown radiometry rule {mode!r} (use one of {', '.join(MODES)})")
    return mode


# --------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class ImageryStats:
    """dtype and per-band 2nd/98th percentiles of valid pixels."""

    dtype: str
    low: tuple[float, ...]
    high: tuple[float, ...]
    pixels: int

    @classmethod
    def from_samples(cls, dtype: str, samples: Sequence[np.ndarray], where: Any) -> "ImageryStats":
        """`samples`: (C, N) arrays of valid pixel values (any N, same C)."""
        kept = [s for s in samples if s.size]
        px = np.concatenate(kept, axis=1) if kept else None
        if px is None:
            raise RasterReadError(f"{where}: no valid pixels to measure the value range")
        low, high = np.percentile(px, PERCENTILES, axis=1)
        return cls(str(dtype), tuple(map(float, low)), tuple(map(float, high)), int(px.shape[1]))

    def describe(self) -> str:
        bands = ", ".join(f"{lo:.4g}–{hi:.4g}" for lo, hi in zip(self.low, self.high))
        return f"{self.dtype} {bands}"


def _valid_samples(
    src, bands: Sequence[int], max_side: int, rows: tuple[int, int] | None = None
) -> np.ndarray:
    """(C, N) valid pixel values of an open dataset from a decimated (nearest) read of
    rows ``rows`` (default: all); GDAL uses overviews where present."""

    r0, r1 = rows or (0, src.height)
    height, width = r1 - r0, src.width
    scale = max(1.0, max(height, width) / max_side)
    shape = (len(bands), max(1, round(height / scale)), max(1, round(width / scale)))
    window = Window(0, r0, width, height)
    try:
        image = src.read(list(bands), window=window, out_shape=shape, resampling=Resampling.nearest)
        valid = src.read_masks(
            list(bands), window=window, out_shape=shape, resampling=Resampling.nearest
        ).all(axis=0)
    except RasterioIOError:
        raise RasterReadError(
            f"{src.name}: cannot read pixels to measure the value range (truncated or corrupt file)"
        ) from None
    px = image.reshape(len(bands), -1).astype(np.float64)
    valid = valid.reshape(-1)
    if image.dtype.kind == "f":
        valid &= np.isfinite(px).all(axis=0)
    return px[:, valid]


def scene_stats(
    path: str | Path, bands: Sequence[int] | None = None, max_side: int = SAMPLE_SIDE
) -> ImageryStats:
    """Statistics of one raster's selected bands from a decimated read."""

    with open_raster(path, "scene") as src:
        bands = list(bands) if bands else list(range(1, src.count + 1))
        return ImageryStats.from_samples(
            src.dtypes[0], [_valid_samples(src, bands, max_side)], path
        )


def _scene_sample(scene: Any) -> ImageryStats | None:
    """The scene's statistics, reading finer when a mostly-nodata scene gives no valid
    pixel at :data:`SAMPLE_SIDE`; None when there is none at all."""

    for side in (SAMPLE_SIDE, 4 * SAMPLE_SIDE):
        try:
            return scene_stats(scene.path, scene.bands, side)
        except RasterReadError as exc:
            if "no valid pixels" not in str(exc):
                raise
    return None


def area_stats(
    paths: Sequence[str | Path],
    bands: Sequence[int] | None = None,
    max_side: int = AREA_SAMPLE_SIDE,
) -> ImageryStats:
    """Statistics pooled over all scenes of an area (one map for the whole batch)."""

    samples, dtypes = [], set()
    for path in paths:
        try:
            with open_raster(path, "scene") as src:
                chosen = list(bands) if bands else list(range(1, src.count + 1))
                samples.append(_valid_samples(src, chosen, max_side))
                dtypes.add(src.dtypes[0])
        except (GeoSegError, RasterioError, IndexError) as exc:  # fails on its own later
            log.debug("%s: left out of the pooled statistics (%s)", path, exc)
    counts = [s.shape[0] for s in samples]
    if len(set(counts)) > 1:
        # scenes with another band count fail on their own (band mismatch); the area's
        # statistics come from the scenes of the most common count
        common = max(set(counts), key=counts.count)
        log.info(
            "pooled statistics over the %d scenes with %d bands (%d left out)",
            counts.count(common),
            common,
            len(counts) - counts.count(common),
        )
        samples = [s for s in samples if s.shape[0] == common]
    dtype = dtypes.pop() if len(dtypes) == 1 else "mixed"
    return ImageryStats.from_samples(dtype, samples, paths[0] if paths else "area")


def ground_sample_distance(crs: Any, transform: Any, width: int, height: int) -> float | None:
    """Pixel size in metres (geometric mean of x and y); None when not georeferenced.

    Geographic CRSs: degrees converted to metres at the scene centre's latitude (WGS84
    ellipsoid series); projected CRSs: their linear unit (feet...) converted to metres.
    """
    if crs is None or transform is None or transform.is_identity:
        return None
    px_x = math.hypot(transform.a, transform.d)
    px_y = math.hypot(transform.b, transform.e)
    try:
        if crs.is_geographic:
            _, lat = transform * (width / 2.0, height / 2.0)
            phi = math.radians(max(-89.9, min(89.9, lat)))
            per_deg_lat = 111132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
            per_deg_lon = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
            return math.sqrt(px_x * per_deg_lon * px_y * per_deg_lat)
        factor = crs.linear_units_factor[1]
    except Exception:  # a CRS without a usable unit
        return None
    return math.sqrt(px_x * px_y) * float(factor)


# ------------------------------------------------------------------ training record
def _source_samples(source: Any, max_side: int) -> tuple[np.ndarray, float | None]:
    """Valid pixel samples (C, N) and GSD (m) of a training source (scene, region, tile)."""

    base, rows = source, None
    if hasattr(source, "row_off") and hasattr(source, "source"):  # a Region of rows
        base, rows = source.source, (source.row_off, source.row_off + source.height)
    if getattr(base, "transform", None) is not None and hasattr(base, "bands"):  # RasterScene
        with open_raster(base.path, "scene") as src:
            px = _valid_samples(src, base.bands, max_side, rows)
            gsd = ground_sample_distance(src.crs, src.transform, src.width, src.height)
        return px, gsd
    image = np.asarray(source.sample_pixels(max_side))  # non-georeferenced picture
    px = image.reshape(image.shape[0], -1).astype(np.float64)
    return px, None


def measure_training(sources: Sequence[Any], max_side: int = SAMPLE_SIDE) -> dict[str, Any]:
    """The checkpoint's ``imagery`` record for the training sources (plain values)."""
    if not sources:
        return {}
    step = max(1, len(sources) // MAX_TRAINING_SOURCES)
    chosen = list(sources)[::step][:MAX_TRAINING_SOURCES]
    side = max(64, int(max_side / math.sqrt(len(chosen))))
    samples, gsds = [], []
    for s in chosen:
        px, gsd = _source_samples(s, side)
        samples.append(px)
        if gsd is not None:
            gsds.append(gsd)
    stats = ImageryStats.from_samples(chosen[0].dtype, samples, chosen[0].path)
    return {
        "dtype": stats.dtype,
        "percentiles": list(PERCENTILES),
        "low": list(stats.low),
        "high": list(stats.high),
        "gsd_m": float(np.median(gsds)) if gsds else None,
    }


@dataclass(frozen=True)
class TrainingImagery:
    """What prediction compares a scene with: the record, or the normaliser's range."""

    dtype: str | None
    low: tuple[float, ...]
    high: tuple[float, ...]
    gsd_m: float | None
    recorded: bool

    @classmethod
    def of(cls, ckpt: Checkpoint, norm: Normalizer) -> "TrainingImagery":
        rec = ckpt.imagery or {}
        if rec.get("low") and rec.get("high") and len(rec["low"]) == norm.bands:
            gsd = rec.get("gsd_m")
            return cls(
                rec.get("dtype"),
                tuple(map(float, rec["low"])),
                tuple(map(float, rec["high"])),
                float(gsd) if gsd else None,
                True,
            )
        return cls(None, tuple(norm.low), tuple(norm.high), None, False)

    def describe(self) -> str:
        bands = ", ".join(f"{lo:.4g}–{hi:.4g}" for lo, hi in zip(self.low, self.high))
        return f"{self.dtype} {bands}" if self.dtype else bands


# ----------------------------------------------------------------------------- rule
def _ends_differ(stats: ImageryStats, ref: TrainingImagery) -> bool:
    for s_lo, s_hi, t_lo, t_hi in zip(stats.low, stats.high, ref.low, ref.high):
        tol = RANGE_TOLERANCE * max(t_hi - t_lo, 1e-9)
        if abs(s_lo - t_lo) > tol or abs(s_hi - t_hi) > tol:
            return True
    return False


def _misfits_normaliser(stats: ImageryStats, ref: TrainingImagery) -> bool:
    """Without a record: the scene would clip at the normaliser's range, or fill only a
    sliver of it (11-bit data under a 16-bit full-range normaliser)."""
    for s_lo, s_hi, t_lo, t_hi in zip(stats.low, stats.high, ref.low, ref.high):
        span = max(t_hi - t_lo, 1e-9)
        tol = RANGE_TOLERANCE * span
        if s_lo < t_lo - tol or s_hi > t_hi + tol or (s_hi - s_lo) < RANGE_TOLERANCE * span:
            return True
    return False


def needs_rescale(stats: ImageryStats, ref: TrainingImagery, mode: str) -> bool:
    if mode == "none":
        return False
    if mode == "match":
        return True
    if ref.recorded:
        return stats.dtype != ref.dtype or _ends_differ(stats, ref)
    return _misfits_normaliser(stats, ref)


def _no_spread(low: float, high: float) -> bool:
    return high - low <= 1e-9 * max(1.0, abs(high))


def flat(stats: ImageryStats, ref: TrainingImagery) -> list[int]:
    """Bands (0-based) whose 2–98 % interval has no spread, in the scene or the training
    imagery: no linear stretch maps one onto the other, so they are fed as they are."""
    return [
        i
        for i, (s_lo, s_hi, t_lo, t_hi) in enumerate(zip(stats.low, stats.high, ref.low, ref.high))
        if _no_spread(s_lo, s_hi) or _no_spread(t_lo, t_hi)
    ]


def rescaled_normalizer(norm: Normalizer, stats: ImageryStats, ref: TrainingImagery) -> Normalizer:
    """`norm` applied after the per-band linear map of the scene's 2/98 % onto the
    training's: both are linear, so the result is one normaliser on raw scene values.
    A band without spread (:func:`flat`) keeps `norm` as it is."""
    low, high = [], []
    skip = set(flat(stats, ref))
    for i, (n_lo, n_hi, s_lo, s_hi, t_lo, t_hi) in enumerate(
        zip(norm.low, norm.high, stats.low, stats.high, ref.low, ref.high)
    ):
        if i in skip:
            low.append(n_lo)
            high.append(n_hi)
            continue
        ratio = (s_hi - s_lo) / (t_hi - t_lo)
        low.append(s_lo + (n_lo - t_lo) * ratio)  # the scene value that lands on n_lo
        high.append(s_lo + (n_hi - t_lo) * ratio)
    return Normalizer(tuple(low), tuple(high), norm.mean, norm.std)


def clipped_fraction(stats: ImageryStats, norm: Normalizer) -> float:
    """Rough share of pixels beyond the normaliser's range (from the 2/98 % ends)."""
    worst = 0.0
    for s_lo, s_hi, n_lo, n_hi in zip(stats.low, stats.high, norm.low, norm.high):
        span = max(s_hi - s_lo, 1e-9)
        # linear interpolation of the 2..98 % interval: the part outside [n_lo, n_hi]
        below = min(max((n_lo - s_lo) / span, 0.0), 1.0) * 0.96 + (0.02 if s_lo < n_lo else 0)
        above = min(max((s_hi - n_hi) / span, 0.0), 1.0) * 0.96 + (0.02 if s_hi > n_hi else 0)
        worst = max(worst, below + above)
    return worst


@dataclass(frozen=True)
class Adaptation:
    """What the rule decided for one scene."""

    normalizer: Normalizer
    rescaled: bool
    resample_factor: float | None  # scene GSD / training GSD when resampling, else None
    scene_gsd_m: float | None
    training_gsd_m: float | None


def decide(
    stats: ImageryStats, norm: Normalizer, ckpt: Checkpoint, mode: str, where: str
) -> tuple[Normalizer, bool, list[tuple[int, str]]]:
    """The radiometry rule: (normaliser to use, rescaled?, log lines as (level, text))."""
    ref = TrainingImagery.of(ckpt, norm)
    source = ckpt.path or "the checkpoint"
    lines: list[tuple[int, str]] = []
    constant = flat(stats, ref)
    if needs_rescale(stats, ref, mode) and len(constant) == len(stats.low):
        lines.append(
            (
                logging.INFO,
                f"{where}: values {stats.describe()} (2–98 %) have no spread in any band, so "
                f"there is no stretch onto {ref.describe()}: fed as they are (radiometry {mode})",
            )
        )
    elif needs_rescale(stats, ref, mode):
        basis = (
            "the training imagery's"
            if ref.recorded
            else f"the normaliser's range (no training imagery recorded in {source})"
        )
        lines.append(
            (
                logging.INFO if ref.recorded else logging.WARNING,
                f"{where}: values {stats.describe()} (2–98 %) rescaled band by band onto "
                f"{basis} {ref.describe()} (radiometry {mode}; --radiometry none feeds "
                "them as they are)"
                + (
                    f"; band(s) {', '.join(str(i + 1) for i in constant)} without spread fed "
                    "as they are"
                    if constant
                    else ""
                ),
            )
        )
        return rescaled_normalizer(norm, stats, ref), True, lines
    if not ref.recorded and mode != "none":
        lines.append(
            (
                logging.WARNING,
                f"{source} records no training imagery (older or imported checkpoint): "
                f"{where} checked against its normaliser's range {ref.describe()} only",
            )
        )
    share = clipped_fraction(stats, norm)
    if share > 0.05:
        bounds = ", ".join(f"{a:.4g}–{b:.4g}" for a, b in zip(norm.low, norm.high))
        lines.append(
            (
                logging.WARNING,
                f"{where}: about {100 * share:.0f} % of the values {stats.describe()} lie "
                f"outside the model's input range {bounds} and are clipped (radiometry "
                f"{mode}; --radiometry auto or match rescales them)",
            )
        )
    return norm, False, lines


def no_valid_pixels(scene: Any) -> str:
    """The warning for a scene without a single valid pixel (predict and batch)."""
    return (
        f"{scene.path}: the scene has no valid pixels (every pixel is nodata, masked or NaN): "
        "its outputs are all nodata and hold no road"
    )


def _say(lines: list[tuple[int, str]], level: int | None = None) -> None:
    """One log line for the radiometry decision (its parts joined)."""
    if lines:
        log.log(level or max(lv for lv, _ in lines), "%s", "; ".join(t for _, t in lines))


def adapt(
    scene: Any,
    norm: Normalizer,
    ckpt: Checkpoint | None,
    *,
    mode: str = "auto",
    resample: bool = False,
    stats: ImageryStats | None = None,
) -> Adaptation:
    """Apply the radiometry and pixel-size rule to `scene` (a :class:`geoseg.io.raster.Scene`).

    `ckpt`: the loaded checkpoint (None for a bare module or an explicit normaliser:
    nothing is known about the training imagery, the normaliser is used as given).
    `stats`: a batch's pooled :func:`area_stats` (announced once by :func:`area_rule`;
    here only at DEBUG level), else the scene's own are measured.  Logs at most one line
    about radiometry and one about pixel size; a scene without a single valid pixel gets
    one WARNING instead (its outputs are all nodata).
    """
    check_mode(mode)
    where = str(scene.path)
    scene_gsd = ground_sample_distance(scene.crs, scene.transform, scene.width, scene.height)
    if not has_valid_pixels(scene):  # stops at the first valid row band: cheap
        log.warning("%s", no_valid_pixels(scene))
        return Adaptation(norm, False, None, scene_gsd, None)
    if ckpt is None:
        return Adaptation(norm, False, None, scene_gsd, None)
    pooled = stats is not None
    if stats is None:
        stats = _scene_sample(scene)
        if stats is None:  # no valid pixel found: nothing to compare (nor to map)
            log.info("%s: no valid pixels in a decimated read; values are fed as they are", where)
            return Adaptation(norm, False, None, scene_gsd, None)
    norm, rescaled, lines = decide(stats, norm, ckpt, mode, where)
    _say(lines, logging.DEBUG if pooled else None)
    train_gsd = TrainingImagery.of(ckpt, norm).gsd_m
    factor = _pixel_size(where, scene_gsd, train_gsd, resample)
    return Adaptation(norm, rescaled, factor, scene_gsd, train_gsd)


_run_notes: set[str] | None = None  # within once_per_run(): checkpoint warnings said
_run_lock = threading.Lock()


@contextlib.contextmanager
def once_per_run() -> Iterator[None]:
    """Within the block (a batch run), a warning about the checkpoint itself, the same for
    every scene (an older checkpoint records no training pixel size), is logged once, for
    the first scene, not once per scene.  Process-wide: a batch's scenes may run on
    several threads; one command runs per process."""
    global _run_notes
    with _run_lock:
        outer, _run_notes = _run_notes, (_run_notes if _run_notes is not None else set())
    try:
        yield
    finally:
        with _run_lock:
            _run_notes = outer


def _checkpoint_warning(fmt: str, where: str) -> None:
    """``log.warning(fmt, where)``, said once per run within :func:`once_per_run`."""
    with _run_lock:
        if _run_notes is not None:
            if fmt in _run_notes:
                log.debug(fmt, where)
                return
            _run_notes.add(fmt)
            fmt += " (said once for all scenes of this run)"
    log.warning(fmt, where)


def area_rule(
    paths: Sequence[str | Path],
    ckpt: Checkpoint | None,
    mode: str,
    bands: Sequence[int] | str | None = None,
) -> ImageryStats | None:
    """For a batch: the statistics pooled over all its scenes (one rescaling for the
    whole area, so no seams between scenes), with the decision logged once.  None when
    the rule does not apply (a bare module, ``none``, no scenes)."""
    check_mode(mode)
    if not isinstance(ckpt, Checkpoint) or mode == "none" or not paths:
        return None

    chosen = parse_bands(bands) or ckpt.bands
    stats = area_stats(paths, chosen)
    norm = ckpt.to_normalizer()
    if len(stats.low) != norm.bands:
        return None  # the band mismatch is reported per scene, in predict's words
    where = f"{len(paths)} scene(s) of the batch (pooled)"
    _, _, lines = decide(stats, norm, ckpt, mode, where)
    _say(lines)
    return stats


def _pixel_size(
    where: str, scene_gsd: float | None, train_gsd: float | None, resample: bool
) -> float | None:
    if scene_gsd is None or train_gsd is None:
        if resample and scene_gsd is None:
            log.warning(
                "%s: cannot resample to the training pixel size: the scene is not georeferenced",
                where,
            )
        elif resample:  # the same for every scene: once per run within once_per_run()
            _checkpoint_warning(
                "%s: cannot resample to the training pixel size: the checkpoint records no "
                "training pixel size",
                where,
            )
        return None
    ratio = scene_gsd / train_gsd
    if abs(ratio - 1.0) <= GSD_TOLERANCE:
        return None
    how = "finer" if ratio < 1 else "coarser"
    if resample:
        log.info(
            "%s: pixel %.3g m is %.0f %% %s than the training imagery's %.3g m; tiles are "
            "resampled to %.3g m for the model and the probabilities back onto the "
            "scene's grid",
            where,
            scene_gsd,
            abs(ratio - 1) * 100,
            how,
            train_gsd,
            train_gsd,
        )
        return ratio
    log.warning(
        "%s: pixel %.3g m is %.0f %% %s than the training imagery's %.3g m; roads will "
        "look %s to the model (--resample-to-training resamples the tiles)",
        where,
        scene_gsd,
        abs(ratio - 1) * 100,
        how,
        train_gsd,
        "wider" if ratio < 1 else "narrower",
    )
    return None


# ----------------------------------------------------------------------- resampling
def _model_side(tile: int, factor: float, stride: int = 32) -> int:
    return max(stride, int(round(tile * factor / stride)) * stride)


def _resize(x, size, shrink: bool):
    """Shrink by area averaging (what a coarser sensor pixel integrates), enlarge bilinearly."""
    from torch.nn import functional as F  # lazy: torch takes seconds to load

    if shrink:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def resampled_model(module: Any, factor: float) -> Any:
    """`module` seen through a resampling: a (B,C,t,t) tile at the scene's pixel size is
    resized to the training pixel size (``t·factor``, rounded to a multiple of 32), run,
    and its logits resized back to t×t.  `factor` = scene GSD / training GSD (< 1: the
    scene is finer and its tiles are shrunk by area averaging)."""
    import torch  # lazy: torch takes seconds to load

    class ResampledModel(torch.nn.Module):
        def __init__(self, inner, factor: float) -> None:
            super().__init__()
            self.inner, self.factor = inner, float(factor)
            self.in_channels = getattr(inner, "in_channels", None)

        def forward(self, x):
            h, w = x.shape[-2:]
            size = (_model_side(h, self.factor), _model_side(w, self.factor))
            logits = self.inner(_resize(x, size, shrink=self.factor < 1))
            if isinstance(logits, (tuple, list)):
                logits = logits[0]
            return _resize(logits.float(), (h, w), shrink=self.factor > 1)

    return ResampledModel(module, factor)


def fit_scene(
    scene: Any,
    norm: Normalizer,
    module: Any,
    ckpt: Checkpoint | None,
    *,
    mode: str = "auto",
    resample: bool = False,
    stats: ImageryStats | None = None,
) -> tuple[Normalizer, Any]:
    """:func:`adapt`, returning the normaliser and the module to predict `scene` with."""
    domain = adapt(scene, norm, ckpt, mode=mode, resample=resample, stats=stats)
    if domain.resample_factor is not None:
        module = resampled_model(module, domain.resample_factor)
    return domain.normalizer, module
