"""Options shared by several commands, defined once (rasterio's `rio/options.py` idea)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from geoseg import progress
from geoseg.inference.predictor import TTA_MODES
from geoseg.inference.settings import DEFAULT_THRESHOLD, DEFAULT_TTA
from geoseg.io.files import allow_overwrite
from geoseg.io.windows import DEFAULT_TILE, MAX_DEFAULT_OVERLAP, STRIDE

F = TypeVar("F", bound=Callable[..., Any])


def stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator applying `decorators` so that --help lists them in the given order."""

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


METRES = click.FloatRange(0)  # lengths and areas on the ground: the same check as the library's

seed_opt = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
device_opt = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="Torch device: auto (CUDA when present, else CPU), cpu, cuda, cuda:1 ...",
)
config_opt = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="YAML config file, or a shipped config's name (geoseg configs lists them).",
)
output_dir_arg = click.argument("outdir", type=click.Path(file_okay=False))
amp_opt = click.option(
    "--amp/--no-amp",
    default=True,
    show_default=True,
    help="Mixed precision: bf16/fp16 on CUDA, bf16 on CPUs with AMX/AVX512-BF16 "
    "(2-3x faster there); --no-amp computes in fp32.",
)
compile_opt = click.option(
    "--compile",
    "compile_model",
    is_flag=True,
    help="Run the network through torch.compile: faster on large scenes, but compiling "
    "takes seconds to minutes (falls back to the plain model with a warning).",
)
# Prediction settings: unset options are None, resolved by geoseg.inference.settings
# (explicit option > the checkpoint's, e.g. an imported D-LinkNet's 1024 px and d4 >
# TileGrid's default), so the help texts name that rule rather than a number of their own.
tile_opt = click.option(
    "--tile",
    type=int,
    default=None,
    help=f"Tile size in pixels (multiple of {STRIDE}) "
    f"[default: the checkpoint's, else {DEFAULT_TILE}].",
)
tta_opt = click.option(
    "--tta",
    type=click.Choice(list(TTA_MODES)),
    default=None,
    help="Test-time augmentation: none, 4 flips, or all 8 rotations/reflections "
    f"[default: the checkpoint's, else {DEFAULT_TTA}].",
)
overlap_opt = click.option(
    "--overlap",
    type=int,
    help="Overlap between tiles in pixels, less than half the tile "
    f"[default: a quarter of the tile, at most {MAX_DEFAULT_OVERLAP}].",
)
batch_size_opt = click.option(
    "--batch-size", type=int, default=4, show_default=True, help="Tiles per forward pass."
)
threshold_opt = click.option(
    "--threshold",
    type=float,
    help=f"Road if probability ≥ this [default: the checkpoint's, else {DEFAULT_THRESHOLD}].",
)
models_dir_opt = click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Trained checkpoints [default: $GEOSEG_MODELS or ~/.local/share/geoseg/models].",
)


def _allow_overwrite(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        allow_overwrite()
    return value


overwrite_opt = click.option(
    "--overwrite",
    is_flag=True,
    expose_value=False,
    callback=_allow_overwrite,
    help="Replace existing files at the output paths even when geoseg did not write them "
    "(it never writes over an input).",
)


model_source_opts = stack(  # -m/--model CKPT, or --backbone (+ --arch): the newest one
    click.option(
        "-m",
        "--model",
        type=click.Path(path_type=Path),
        help="Checkpoint (.pt) to predict with.",
    ),
    click.option(
        "--arch",
        help="Architecture (unet, linknet, dlinknet, adlinknet); checked against the checkpoint.",
    ),
    click.option(
        "--backbone",
        help="Without --model: the newest checkpoint trained with this backbone.",
    ),
    models_dir_opt,
)


def resolve_model_source(model, arch, backbone, models_dir):
    """The checkpoint the model options name (UsageError when they name none)."""
    from geoseg.predict import resolve_checkpoint  # lazy: torch; --help imports every command

    if model is None and not backbone:
        raise click.UsageError("give --model CKPT, or --backbone B (and optionally --arch A)")
    return resolve_checkpoint(model, arch=arch, backbone=backbone, models_dir=models_dir)


radiometry_opts = stack(  # --radiometry auto|match|none, --resample-to-training
    click.option(
        "--radiometry",
        # = geoseg.radiometry.MODES, which imports torch (the checkpoint): not for --help
        type=click.Choice(["auto", "match", "none"]),
        default="auto",
        show_default=True,
        help="Scene values vs the training imagery's: auto rescales each band "
        "onto the training 2–98 % range when the dtype or range differs, match "
        "always does, none feeds the values as they are.",
    ),
    click.option(
        "--resample-to-training",
        is_flag=True,
        help="Resample tiles to the training pixel size when the scene's differs "
        "by more than 25 % (outputs stay on the scene's grid).",
    ),
)


def _set_progress_mode(ctx: click.Context, param: click.Parameter, value: str) -> str:

    progress.set_mode(value)  # json lines go to sys.stderr as it is when they are written
    return value


progress_opt = click.option(
    "--progress",
    type=click.Choice(list(progress.MODES)),
    default="bar",
    show_default=True,
    expose_value=False,
    callback=_set_progress_mode,
    help="Progress bars on a terminal; json: one JSON object per line on stderr "
    '({"progress": 0.42, "message": ...}, log records too), for programs that run geoseg; '
    "none: silent.",
)

# What geoseg.pipeline.map_scene and geoseg.batch.run_batch share, in groups that stand
# together in both commands' --help: the tiling, and how the network runs.
tiling_opts = stack(tile_opt, overlap_opt, batch_size_opt)
tta_amp_opts = stack(tta_opt, amp_opt)
run_opts = stack(compile_opt, device_opt, overwrite_opt, progress_opt)
