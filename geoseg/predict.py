"""Predict road probabilities and masks for a whole scene: ``geoseg.predict_scene``.

Chain: :func:`geoseg.io.raster.open_scene` ▸ :class:`~geoseg.io.windows.TileGrid` ▸
:mod:`geoseg.inference.pipeline` (parallel read-once row bands ▸ batches ▸
:class:`~geoseg.inference.predictor.TilePredictor` (TTA, AMP, overlapped copies) ▸
:class:`~geoseg.inference.stitch.Stitcher` ▸ :class:`~geoseg.inference.outputs.OutputSink`)
▸ block-row writes of ``<name>_prob.tif`` and ``<name>_mask.tif`` (or the one asked for).
Both outputs are written under temporary names and renamed only when both are complete.

Outputs share the scene's CRS, transform and size.  Where the input is nodata (nodata
value, internal mask or alpha band) the outputs hold 0 and an internal GDAL mask marks the
pixel as nodata (``read(masked=True)``, QGIS and ``gdalinfo`` honour it): nodata is never a
road, and uint8 probabilities keep the full 0–255 range (255 = probability 1).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import rasterio
import torch

from geoseg.checkpoint import (
    Checkpoint,
    default_models_dir,
    find_latest,
    load_checkpoint,
    model_from_checkpoint,
)
from geoseg.config import training_hint
from geoseg.device import resolve_device
from geoseg.errors import (
    BandMismatchError,
    CheckpointError,
    ConfigError,
    ModelError,
    ParameterError,
    naming,
)
from geoseg.inference.memory import check_fits
from geoseg.inference.onnx import check_tile as check_onnx_tile
from geoseg.inference.outputs import (
    OutputSink,
    output_paths,
    parse_outputs,
)
from geoseg.inference.pipeline import resolve_threads, run_scene
from geoseg.inference.predictor import TilePredictor, tta_views
from geoseg.inference.profile import StageTimes
from geoseg.inference.settings import check_threshold, resolve_settings
from geoseg.inference.split import SceneSplit
from geoseg.io.files import (
    atomic_output,
    check_output_folder,
    output_set,
    readable_path,
    temp_name,
)
from geoseg.io.provenance import tags
from geoseg.io.raster import (
    Scene,
    build_overviews,
    check_compression,
    gdal_env,
    open_scene,
    output_profile,
    raster_verifier,
    read_decimated,
    write_cog,
)
from geoseg.io.windows import TileGrid, check_tile_overlap, default_overlap
from geoseg.normalize import Normalizer
from geoseg.progress import tqdm
from geoseg.radiometry import ImageryStats, check_mode, fit_scene
from geoseg.viz import overlay_png

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictResult:
    prob_path: Path | None  # None when not asked for (outputs=)
    mask_path: Path | None
    preview_path: Path | None
    n_tiles: int
    seconds: float
    megapixels_per_s: float
    #: busy seconds per pipeline stage (:mod:`geoseg.inference.profile`)
    stages: dict[str, float] | None = None
    #: CPU seconds of the threads running each stage
    stage_cpu: dict[str, float] | None = None


@dataclass
class LoadedModel:
    """A network ready for prediction and what the checkpoint says about feeding it."""

    module: torch.nn.Module
    normalizer: Normalizer | None
    threshold: float | None
    in_channels: int | None
    checkpoint: Checkpoint | None = None  # what it was built from (None: a bare module)


#: What ``predict_scene(model=...)`` / :func:`load_model` accept: a checkpoint file (.pt,
#: or .onnx from ``geoseg export``), a loaded :class:`~geoseg.checkpoint.Checkpoint`, a
#: :class:`LoadedModel` (built once, reused for many scenes) or a bare ``nn.Module``
#: mapping (B, C, H, W) to logits (B, 1, H, W) (with ``norm_mean``/``norm_std`` or a
#: ``normalizer=``).
ModelSource = Union[str, os.PathLike[str], Checkpoint, LoadedModel, torch.nn.Module]


def model_source(model: ModelSource) -> Checkpoint | LoadedModel | torch.nn.Module:
    """`model` with a path loaded (:func:`load_checkpoint`); anything that is not a
    :data:`ModelSource` is refused in one sentence."""
    if isinstance(model, (str, os.PathLike)):
        return load_checkpoint(model)
    if isinstance(model, (Checkpoint, LoadedModel, torch.nn.Module)):
        return model
    raise ModelError(
        "model must be a checkpoint path, a Checkpoint (geoseg.load_checkpoint), a "
        f"LoadedModel (geoseg.predict.load_model) or a torch module, not {type(model).__name__}"
    )


def checkpoint_of(model: Checkpoint | LoadedModel | torch.nn.Module) -> Checkpoint | None:
    """The checkpoint behind a resolved model source (None for a bare module)."""
    if isinstance(model, LoadedModel):
        return model.checkpoint
    return model if isinstance(model, Checkpoint) else None


def resolve_checkpoint(
    model: str | Path | None = None,
    arch: str | None = None,
    backbone: str | None = None,
    models_dir: str | Path | None = None,
) -> Checkpoint:
    """Load the checkpoint to predict with: `model` if given, else the newest trained
    `arch`/`backbone` checkpoint in `models_dir` (default :func:`default_models_dir`).

    A checkpoint of another architecture than `arch` (or backbone than `backbone`) is an
    error, and so is finding none: geoseg never predicts with untrained weights.
    """
    if model is None:
        if not backbone:
            raise naming(
                ConfigError("give a checkpoint (model=CKPT) or a backbone (backbone=B)"),
                "model",
                "backbone",
            )
        folder = Path(models_dir) if models_dir else default_models_dir()
        model = find_latest(folder, arch, backbone)
        if model is None:
            what = f"{arch or '*'}_{backbone}"
            raise naming(
                CheckpointError(
                    f"{folder}: no trained {what} checkpoint; {training_hint(arch, backbone)} "
                    "(it is saved there), pass models_dir=DIR where one was saved (the demo's: "
                    "demo_output/models), or pass model=CKPT"
                ),
                "models_dir",
                "model",
            )
        log.info("using checkpoint %s", model)
    ckpt = load_checkpoint(model)
    for key, want in (("arch", arch), ("backbone", backbone)):
        if want is not None and getattr(ckpt, key) != want:
            raise CheckpointError(
                f"{ckpt.where}: checkpoint is a {getattr(ckpt, key)} model, not {want} as requested"
            )
    return ckpt


def load_model(model: ModelSource, normalizer: Normalizer | None = None) -> LoadedModel:
    """The network of any :data:`ModelSource`, ready for prediction (a LoadedModel is
    returned as it is, with `normalizer` when one is given)."""
    model = model_source(model)
    if isinstance(model, LoadedModel):
        return dataclasses.replace(model, normalizer=normalizer) if normalizer else model
    if isinstance(model, Checkpoint):
        norm = normalizer or model.to_normalizer()
        return LoadedModel(
            model_from_checkpoint(model), norm, model.threshold, model.in_channels, model
        )
    channels = getattr(model, "in_channels", None)
    return LoadedModel(model, normalizer, None, int(channels) if channels else None)


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
        where = f"{loaded.checkpoint.where}: " if loaded.checkpoint is not None else ""
        raise ModelError(
            f"{where}the normaliser has {norm.bands} bands but the model expects {want}"
        )
    n = len(scene.bands)
    if n != want:
        example = ",".join(str(b) for b in range(1, want + 1))
        hint = f" (choose {want} of them: bands={example})" if scene.count >= want else ""
        raise naming(
            BandMismatchError(
                f"{scene.path}: {n} band{'s' if n != 1 else ''} selected but the model "
                f"expects {want}{hint}"
            ),
            "bands",
        )


def _check_params(
    tile: int | None, overlap: int | None, batch_size: int, threshold: float | None
) -> None:
    """The values given, checked before anything is loaded (None: resolved later, from the
    checkpoint or the default, by :func:`geoseg.inference.settings.resolve_settings`)."""
    if tile is not None:
        check_tile_overlap(tile, default_overlap(tile) if overlap is None else overlap)
    if batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, got {batch_size}", "batch_size")
    if threshold is not None:
        check_threshold(threshold)


def predict_scene(
    scene: str | Path,
    model: ModelSource,
    out_dir: str | Path,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int = 4,
    tta: str | None = None,
    device: str = "auto",
    threshold: float | None = None,
    bands: Any = None,
    float_output: bool = False,
    overviews: bool = False,
    preview: bool = False,
    normalizer: Normalizer | None = None,
    progress: bool | None = None,
    amp: bool = True,
    radiometry: str = "auto",
    resample_to_training: bool = False,
    radiometry_stats: ImageryStats | None = None,
    threads: int | None = None,
    compress: str = "deflate",
    outputs: str | tuple[str, ...] = ("prob", "mask"),
    cog: bool = False,
    prob_out: str | Path | None = None,
    mask_out: str | Path | None = None,
    split: SceneSplit | None = None,
    compile: bool = False,
) -> PredictResult:
    """Predict roads on a GeoTIFF of any size, streaming tiles through `model`.

    `model`: a :data:`ModelSource` — checkpoint path, a loaded
    :class:`~geoseg.checkpoint.Checkpoint`, a :class:`LoadedModel` or an ``nn.Module``
    mapping (B,C,H,W) to logits (B,1,H,W).  `bands` (1-based, e.g. ``"1,2,3"``) overrides
    the checkpoint's band choice; `threshold` overrides its threshold (default 0.5;
    road = probability ≥ threshold).  `tile`, `overlap`, `tta`, `threshold`, `bands` left
    None are the checkpoint's, else the defaults (tile 512, overlap a quarter tile ≤ 64 px,
    TTA none): :mod:`geoseg.inference.settings`.  Writes ``<out_dir>/<name>_prob.tif``,
    ``<name>_mask.tif`` and, with `preview`,
    ``<name>_preview.png``.  `progress`: tqdm bar (None: only on a terminal).  `amp`:
    mixed precision where the device has it (:func:`geoseg.device.amp_dtype`: CUDA, and
    CPUs with native bf16); False runs in fp32.  `threads`: cores for reading and
    compressing (None: all available).  `compress`: ``deflate`` (default), ``zstd``,
    ``lzw`` or ``none``.  `outputs`: ``"prob,mask"``, ``"prob"`` or ``"mask"``; the
    path of an output not asked for is None.  `cog`: write Cloud-Optimized GeoTIFFs
    (overviews included).  `radiometry` (auto, match, none),
    `resample_to_training` and `radiometry_stats` (a batch's pooled statistics): the
    imagery-domain rule of :mod:`geoseg.radiometry`.  `prob_out` / `mask_out`: explicit .tif
    paths for the two outputs instead of ``<out_dir>/<name>_prob.tif`` / ``_mask.tif``.
    `split`: this rank's share of the scene in a torchrun job
    (:func:`geoseg.inference.split.scene_split`); rank 0 writes the outputs, the other
    ranks return a result without paths.  `compile`: run the network through
    ``torch.compile`` (:mod:`geoseg.inference.compiled`; falls back with a warning).
    """

    # cheap checks first: nothing is built or written before the inputs are known good
    _check_params(tile, overlap, batch_size, threshold)
    if tta is not None:
        tta_views(tta)
    check_mode(radiometry)
    compress = check_compression(compress)
    outputs = parse_outputs(outputs)
    threads = resolve_threads(threads)
    if preview and "mask" not in outputs:
        raise ConfigError("preview draws the mask: add mask to the outputs")
    out_dir = Path(out_dir)
    if (
        preview
        or (prob_out is None and "prob" in outputs)
        or (mask_out is None and "mask" in outputs)
    ):
        check_output_folder(out_dir)  # only when something is written there
    for explicit in (prob_out, mask_out):
        if explicit is not None:
            check_output_folder(Path(explicit).parent)  # created when written
    dev = resolve_device(split.device(device) if split is not None else device)
    model = model_source(model)  # a path is loaded; any other kind of value refused
    ckpt = checkpoint_of(model)
    # explicit option > what the checkpoint says > TileGrid's / built-in default
    settings = resolve_settings(
        ckpt, tile=tile, overlap=overlap, tta=tta, threshold=threshold, bands=bands
    )
    tile, overlap, tta = settings.tile, settings.overlap, settings.tta
    threshold, bands = settings.threshold, settings.bands
    info = open_scene(scene, bands)
    out_dir = Path(out_dir)
    loaded = load_model(model, normalizer)
    check_onnx_tile(loaded.module, tile)  # an ONNX graph with a fixed input size
    norm = _normalizer_for(loaded, info)
    _check_bands(info, loaded, norm)
    record = ckpt if normalizer is None else None
    norm, module = fit_scene(
        info,
        norm,
        loaded.module,
        record,
        mode=radiometry,
        resample=resample_to_training,
        stats=radiometry_stats,
    )
    times = StageTimes()
    # the network's activations for a batch, plus the stitcher's row band of accumulators
    check_fits(
        module,
        len(info.bands),
        tile,
        batch_size,
        dev,
        training=False,
        extra_bytes=3 * 4 * tile * info.width,
    )
    predictor = TilePredictor(module, dev, tta=tta, amp=amp, times=times, compile=compile)
    grid = TileGrid(info.height, info.width, tile, overlap)
    if split is not None:
        grid = split.rows_of(grid)  # this rank's rows (geoseg.inference.split)

    names = output_paths(info.path, out_dir, outputs, prob_out, mask_out, preview)
    prob_path, mask_path = names.prob, names.mask
    megapixels = info.width * info.height / 1e6
    start = time.perf_counter()
    if split is not None and not split.assembles:
        folder = (prob_path or mask_path or out_dir / info.name).parent
        split.predict_part(info, grid, predictor, norm, folder, batch_size, threads, times)
        seconds = time.perf_counter() - start
        part_mp = (grid.end - grid.start) * info.width / 1e6
        return PredictResult(
            None, None, None, len(grid), seconds, part_mp / seconds, times.as_dict()
        )
    provenance = {
        "checkpoint": _checkpoint_name(model),
        "threshold": f"{threshold:g}",
        "scene": info.path.name,
    }
    files = _scene_outputs(
        info,
        prob_path,
        mask_path,
        threshold,
        float_output,
        overviews,
        provenance,
        compress=compress,
        cog=cog,
        threads=threads,
        times=times,
    )
    bar = tqdm(
        total=len(grid),
        unit="tile",
        desc=info.name,
        disable=None if progress is None else not progress,
    )

    def on_tiles(n: int) -> None:
        bar.update(n)
        rate = bar.n / len(grid) * megapixels / max(time.perf_counter() - start, 1e-9)
        bar.set_postfix_str(f"{rate:.2f} MP/s")

    with output_set():  # prob, mask and preview appear together, or none of them
        with files as sink, bar:
            run = split.run_scene if split is not None else run_scene
            run(info, grid, predictor, norm, sink, batch_size, threads, times, on_tiles)
        seconds = time.perf_counter() - start
        preview_path = _write_preview(info, mask_path, names.preview) if names.preview else None
    rate = megapixels / seconds
    log.info(
        "%s: %d tiles, %.1f s, %.2f MP/s -> %s, %s",
        info.path,
        len(grid),
        seconds,
        rate,
        prob_path,
        mask_path,
    )
    return PredictResult(
        prob_path,
        mask_path,
        preview_path,
        len(grid),
        seconds,
        rate,
        times.as_dict(),
        times.cpu_dict(),
    )


def _checkpoint_name(model: Checkpoint | LoadedModel | torch.nn.Module) -> str | None:
    ckpt = checkpoint_of(model)
    return Path(ckpt.path).name if ckpt is not None and ckpt.path else None


@contextlib.contextmanager
def _scene_outputs(
    info: Scene,
    prob_path: Path | None,
    mask_path: Path | None,
    threshold: float,
    float_output: bool,
    overviews: bool,
    provenance: dict[str, Any],
    *,
    compress: str = "deflate",
    cog: bool = False,
    threads: int | None = None,
    times: StageTimes | None = None,
) -> Iterator[OutputSink]:
    """Open the outputs asked for (a None path is skipped) under temporary names and yield
    the sink that fills them; they are renamed into place only when the block completes
    (removed on any error); each is verified and tagged with its provenance.  With `cog` the rows go to uncompressed intermediates that
    GDAL's COG driver then copies, with overviews, into the temporary names."""

    times = times or StageTimes()
    prob_dtype = "float32" if float_output else "uint8"
    kinds = [
        (prob_path, prob_dtype, "average", "probability"),
        (mask_path, "uint8", "nearest", "mask"),
    ]
    with contextlib.ExitStack() as stack:
        tmps = [
            stack.enter_context(
                atomic_output(p, kind=kind, verify=raster_verifier(output_profile(info, dtype)))
            )
            if p is not None
            else None
            for p, dtype, _, kind in kinds
        ]
        stack.enter_context(gdal_env(threads=threads))
        streams = [temp_name(t) if cog and t is not None else t for t in tmps]
        if cog:
            for path in streams:
                if path is not None:
                    stack.callback(path.unlink, missing_ok=True)
        dsts = [
            stack.enter_context(
                rasterio.open(
                    path, "w", **output_profile(info, dtype, "none" if cog else compress, threads)
                )
            )
            if path is not None
            else None
            for path, (_, dtype, _, _) in zip(streams, kinds)
        ]
        for dst, (_, _, _, kind) in zip(dsts, kinds):
            if dst is not None:
                dst.update_tags(**tags(kind, **provenance))
        sink = OutputSink(dsts[0], dsts[1], threshold, float_output, info.has_mask, times)
        try:
            yield sink
        except BaseException:
            sink.abort()  # stop the writer threads before the files close
            raise
        sink.close()
        with times.stage("finish"):
            for dst in dsts:
                if dst is not None:
                    dst.close()
            for tmp, path, (_, _, resampling, _) in zip(tmps, streams, kinds):
                if tmp is None:
                    continue
                if cog:
                    write_cog(path, tmp, resampling, compress, threads)
                elif overviews:
                    build_overviews(tmp, resampling)


def _write_preview(scene: Scene, mask_path: Path, path: Path, max_size: int = 1024) -> Path:
    """`path` (``<name>_preview.png``): the scene, decimated, with the predicted roads in red."""

    image = read_decimated(scene.path, scene.bands, max_size)
    mask_path = readable_path(mask_path)  # staged in this run's output set
    mask = read_decimated(mask_path, [1], max_size)[0]
    valid = read_decimated(mask_path, [1], max_size, masks=True)[0] > 0
    return overlay_png(image, mask, path, max_size, valid=valid)
