"""Predict road probabilities and masks for a whole scene: ``geoseg.predict_scene``.

Chain: :func:`geoseg.io.raster.open_scene` ▸ :class:`~geoseg.inference.tiling.TileGrid` ▸
background windowed reads ▸ :class:`~geoseg.inference.predictor.TilePredictor` (batches,
TTA, AMP) ▸ :class:`~geoseg.inference.stitch.Stitcher` (row band of accumulators) ▸
block-row writes of ``<name>_prob.tif`` and ``<name>_mask.tif``.  Both outputs are written
under temporary names and renamed only when both are complete.

Outputs share the scene's CRS, transform and size.  Where the input is nodata (nodata
value, internal mask or alpha band) the outputs hold 0 and an internal GDAL mask marks the
pixel as nodata (``read(masked=True)``, QGIS and ``gdalinfo`` honour it): nodata is never a
road, and uint8 probabilities keep the full 0–255 range (255 = probability 1).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoseg.checkpoint import default_models_dir, find_latest, load_checkpoint
from geoseg.errors import BandMismatchError, CheckpointError, ConfigError, ModelError
from geoseg.inference.predictor import TilePredictor, read_batches, tta_views
from geoseg.inference.stitch import Stitcher
from geoseg.inference.writer import BackgroundSink
from geoseg.inference.tiling import TileGrid
from geoseg.io.files import atomic_output, ensure_writable_dir
from geoseg.io.raster import (
    RowWriter,
    Scene,
    build_overviews,
    gdal_env,
    open_scene,
    output_profile,
    read_decimated,
)
from geoseg.normalize import Normalizer

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
STRIDE = 32  # encoders downsample by 32: tiles must be a multiple of it


@dataclass(frozen=True)
class PredictResult:
    prob_path: Path
    mask_path: Path
    preview_path: Path | None
    n_tiles: int
    seconds: float
    megapixels_per_s: float


@dataclass
class LoadedModel:
    """A network ready for prediction and what the checkpoint says about feeding it."""

    module: Any
    normalizer: Normalizer | None
    threshold: float | None
    in_channels: int | None


def resolve_checkpoint(
    model: str | Path | None = None,
    arch: str | None = None,
    backbone: str | None = None,
    models_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Load the checkpoint to predict with: `model` if given, else the newest trained
    `arch`/`backbone` checkpoint in `models_dir` (default :func:`default_models_dir`).

    A checkpoint of another architecture than `arch` (or backbone than `backbone`) is an
    error, and so is finding none: geoseg never predicts with untrained weights.
    """
    if model is None:
        if not backbone:
            raise ConfigError("give a checkpoint (--model CKPT) or a backbone (--backbone B)")
        folder = Path(models_dir) if models_dir else default_models_dir()
        model = find_latest(folder, arch, backbone)
        if model is None:
            from geoseg.config import training_hint

            what = f"{arch or '*'}_{backbone}"
            raise CheckpointError(
                f"{folder}: no trained {what} checkpoint; {training_hint(arch, backbone)} "
                "(it is saved there), pass --models-dir DIR where one was saved (the demo's: "
                "demo_output/models), or pass --model CKPT"
            )
        log.info("using checkpoint %s", model)
    ckpt = load_checkpoint(model)
    for key, want in (("arch", arch), ("backbone", backbone)):
        if want is not None and ckpt[key] != want:
            raise CheckpointError(
                f"{ckpt['path']}: checkpoint is a {ckpt[key]} model, not {want} as requested"
            )
    return ckpt


def load_model(model: Any, normalizer: Normalizer | None = None) -> LoadedModel:
    """Accept a checkpoint path, a loaded checkpoint dict or an ``nn.Module``."""
    import torch

    if isinstance(model, (str, Path)):
        model = load_checkpoint(model)
    if isinstance(model, dict):
        from geoseg.checkpoint import model_from_checkpoint

        module = model_from_checkpoint(model)
        norm = normalizer or Normalizer.from_dict(model["normalizer"])
        return LoadedModel(module, norm, model.get("threshold"), int(model["in_channels"]))
    if isinstance(model, torch.nn.Module):
        channels = getattr(model, "in_channels", None)
        return LoadedModel(model, normalizer, None, int(channels) if channels else None)
    raise ModelError(
        f"model must be a checkpoint path, a checkpoint dict or a torch module, "
        f"not {type(model).__name__}"
    )


def _normalizer_for(loaded: LoadedModel, scene: Scene) -> Normalizer:
    """The checkpoint's normaliser, else the module's ``norm_mean``/``norm_std`` rescaled
    by the scene dtype's range (floats are taken as 0..1)."""
    if loaded.normalizer is not None:
        return loaded.normalizer
    mean = getattr(loaded.module, "norm_mean", None)
    std = getattr(loaded.module, "norm_std", None)
    if mean is None or std is None:
        raise ModelError(
            "the model has no norm_mean/norm_std: pass normalizer= to say how to scale the bands"
        )
    mean, std = list(mean), list(std)
    n = len(scene.bands)
    if len(mean) == 1 and n > 1:
        mean, std = mean * n, std * n
    return Normalizer.for_dtype(scene.dtype, mean, std)


def _check_bands(scene: Scene, loaded: LoadedModel, norm: Normalizer) -> None:
    want = loaded.in_channels or norm.bands
    if norm.bands != want:
        raise ModelError(f"the normaliser has {norm.bands} bands but the model expects {want}")
    n = len(scene.bands)
    if n != want:
        example = ",".join(str(b) for b in range(1, want + 1))
        hint = f" (choose {want} with --bands, e.g. {example})" if scene.count >= want else ""
        raise BandMismatchError(
            f"{scene.path}: {n} band{'s' if n != 1 else ''} selected but the model "
            f"expects {want}{hint}"
        )


def _check_params(tile: int, overlap: int, batch_size: int, threshold: float | None) -> None:
    if tile <= 0 or tile % STRIDE:
        raise ConfigError(f"tile must be a positive multiple of {STRIDE}, got {tile}")
    if not 0 <= overlap < tile // 2:
        raise ConfigError(
            f"overlap must be at least 0 and less than half the tile ({tile // 2}), got {overlap}"
        )
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise ConfigError(f"threshold must be between 0 and 1, got {threshold}")


class _OutputSink:
    """Turn stitched probability rows into prob (uint8/float32) and mask (uint8) rows."""

    def __init__(self, prob_dst, mask_dst, threshold: float, float_output: bool, masked: bool):
        self.prob = RowWriter(prob_dst, masked)
        self.mask = RowWriter(mask_dst, masked)
        self.threshold = threshold
        self.float_output = float_output

    def __call__(self, prob: np.ndarray, valid: np.ndarray) -> None:
        # in place: `prob` is a fresh (rows, width) array; temporaries would scale with width
        np.clip(prob, 0.0, 1.0, out=prob)
        prob[~valid] = 0.0
        road = (prob >= self.threshold).view(np.uint8)
        if not self.float_output:
            prob *= 255
            prob = np.rint(prob, out=prob).astype(np.uint8)
        self.prob.write(prob, valid)
        self.mask.write(road, valid)

    def close(self) -> None:
        self.prob.close()
        self.mask.close()


def predict_scene(
    scene: str | Path,
    model: Any,
    out_dir: str | Path,
    *,
    tile: int = 512,
    overlap: int = 64,
    batch_size: int = 4,
    tta: str = "none",
    device: str = "auto",
    threshold: float | None = None,
    bands: Any = None,
    float_output: bool = False,
    overviews: bool = False,
    preview: bool = False,
    normalizer: Normalizer | None = None,
    progress: bool | None = None,
    amp: bool = True,
) -> PredictResult:
    """Predict roads on a GeoTIFF of any size, streaming tiles through `model`.

    `model`: checkpoint path, checkpoint dict (:func:`geoseg.checkpoint.load_checkpoint`)
    or an ``nn.Module`` mapping (B,C,H,W) to logits (B,1,H,W).  `bands` (1-based, e.g.
    ``"1,2,3"``) overrides the checkpoint's band choice; `threshold` overrides its
    threshold (default 0.5; road = probability ≥ threshold).  Writes
    ``<out_dir>/<name>_prob.tif``, ``<name>_mask.tif`` and, with `preview`,
    ``<name>_preview.png``.  `progress`: tqdm bar (None: only on a terminal).  `amp`:
    mixed precision where the device has it (:func:`geoseg.device.amp_dtype`: CUDA, and
    CPUs with native bf16); False runs in fp32.
    """
    from tqdm.auto import tqdm

    from geoseg.device import resolve_device

    # cheap checks first: nothing is built or written before the inputs are known good
    _check_params(tile, overlap, batch_size, threshold)
    tta_views(tta)
    dev = resolve_device(device)
    if isinstance(model, (str, Path)):
        model = load_checkpoint(model)
    if bands is None and isinstance(model, dict) and model.get("bands"):
        bands = model["bands"]
    info = open_scene(scene, bands)
    out_dir = ensure_writable_dir(out_dir)
    loaded = load_model(model, normalizer)
    norm = _normalizer_for(loaded, info)
    _check_bands(info, loaded, norm)
    threshold = threshold if threshold is not None else loaded.threshold or DEFAULT_THRESHOLD
    predictor = TilePredictor(loaded.module, dev, tta=tta, amp=amp)
    grid = TileGrid(info.height, info.width, tile, overlap)

    prob_path = out_dir / f"{info.name}_prob.tif"
    mask_path = out_dir / f"{info.name}_mask.tif"
    megapixels = info.width * info.height / 1e6
    start = time.perf_counter()
    outputs = _scene_outputs(info, prob_path, mask_path, threshold, float_output, overviews)
    bar = tqdm(total=len(grid), unit="tile", desc=info.name,
               disable=None if progress is None else not progress)
    with outputs as sink, bar:
        with BackgroundSink(sink) as writer:  # compress + write while the model runs
            stitcher = Stitcher(grid, writer)
            for batch in read_batches(info, grid, batch_size, norm):
                probs = predictor(batch.images)
                for (r, c), p, v in zip(batch.offsets, probs, batch.valid):
                    stitcher.add(p, v, r, c)
                bar.update(len(batch.offsets))
                rate = bar.n / len(grid) * megapixels / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix_str(f"{rate:.2f} MP/s")
            stitcher.close()
    seconds = time.perf_counter() - start
    preview_path = _write_preview(info, mask_path, out_dir) if preview else None
    rate = megapixels / seconds
    log.info("%s: %d tiles, %.1f s, %.2f MP/s -> %s, %s",
             info.path, len(grid), seconds, rate, prob_path, mask_path)
    return PredictResult(prob_path, mask_path, preview_path, len(grid), seconds, rate)


@contextlib.contextmanager
def _scene_outputs(info: Scene, prob_path: Path, mask_path: Path, threshold: float,
                   float_output: bool, overviews: bool) -> Iterator[_OutputSink]:
    """Open both outputs under temporary names and yield the sink that fills them; both
    are renamed into place only when the block completes (removed on any error)."""
    import rasterio

    prob_dtype = "float32" if float_output else "uint8"
    with contextlib.ExitStack() as stack:
        prob_tmp = stack.enter_context(atomic_output(prob_path))
        mask_tmp = stack.enter_context(atomic_output(mask_path))
        stack.enter_context(gdal_env())
        prob_dst = stack.enter_context(
            rasterio.open(prob_tmp, "w", **output_profile(info, prob_dtype))
        )
        mask_dst = stack.enter_context(
            rasterio.open(mask_tmp, "w", **output_profile(info, "uint8"))
        )
        sink = _OutputSink(prob_dst, mask_dst, threshold, float_output, info.has_mask)
        yield sink
        sink.close()
        prob_dst.close()
        mask_dst.close()
        if overviews:
            build_overviews(prob_tmp, "average")
            build_overviews(mask_tmp, "nearest")


def _write_preview(scene: Scene, mask_path: Path, out_dir: Path, max_size: int = 1024) -> Path:
    """`<name>_preview.png`: the scene, decimated, with the predicted roads in red."""
    from geoseg.viz import overlay_png

    image = read_decimated(scene.path, scene.bands, max_size)
    mask = read_decimated(mask_path, [1], max_size)[0]
    valid = read_decimated(mask_path, [1], max_size, masks=True)[0] > 0
    return overlay_png(image, mask, out_dir / f"{scene.name}_preview.png", max_size, valid=valid)
