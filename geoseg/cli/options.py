"""Options shared by several commands, defined once (rasterio's `rio/options.py` idea)."""

from __future__ import annotations

from pathlib import Path

import click

seed_opt = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
device_opt = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="Torch device: auto (CUDA when present, else CPU), cpu, cuda, cuda:1 ...",
)
config_opt = click.option(
    "-c", "--config", "config_path", type=click.Path(dir_okay=False),
    help="YAML config file, or a shipped config's name (geoseg configs lists them)."
)
output_dir_arg = click.argument("outdir", type=click.Path(file_okay=False))
tta_opt = click.option(
    "--tta", type=click.Choice(["none", "flip", "d4"]), default="none", show_default=True,
    help="Test-time augmentation: none, 4 flips, or all 8 rotations/reflections.",
)
amp_opt = click.option(
    "--amp/--no-amp", default=True, show_default=True,
    help="Mixed precision: bf16/fp16 on CUDA, bf16 on CPUs with AMX/AVX512-BF16 "
    "(2-3x faster there); --no-amp computes in fp32.",
)
tile_opt = click.option(
    "--tile", type=int, default=512, show_default=True, help="Tile size in pixels (multiple of 32)."
)
overlap_opt = click.option(
    "--overlap", type=int, help="Overlap between tiles in pixels [default: 64, at most tile/4]."
)
batch_size_opt = click.option(
    "--batch-size", type=int, default=4, show_default=True, help="Tiles per forward pass."
)
threshold_opt = click.option(
    "--threshold", type=float, help="Road if probability ≥ this [default: the checkpoint's, else 0.5]."
)
models_dir_opt = click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Trained checkpoints [default: $GEOSEG_MODELS or ~/.local/share/geoseg/models].",
)


def model_source_opts(func):
    """-m/--model CKPT, or --backbone (+ --arch) to pick the newest trained checkpoint."""
    for option in reversed([
        click.option("-m", "--model", type=click.Path(path_type=Path),
                     help="Checkpoint (.pt) to predict with."),
        click.option("--arch", help="Architecture (unet, linknet, dlinknet, adlinknet); "
                     "checked against the checkpoint."),
        click.option("--backbone", help="Without --model: the newest checkpoint trained "
                     "with this backbone."),
        models_dir_opt,
    ]):
        func = option(func)
    return func


def resolve_model_source(model, arch, backbone, models_dir):
    """The checkpoint the model options name (UsageError when they name none)."""
    from geoseg.predict import resolve_checkpoint

    if model is None and not backbone:
        raise click.UsageError("give --model CKPT, or --backbone B (and optionally --arch A)")
    return resolve_checkpoint(model, arch=arch, backbone=backbone, models_dir=models_dir)


def tile_overlap(tile: int, overlap: int | None) -> int:
    """The --overlap value, defaulting to min(64, tile/4)."""
    return overlap if overlap is not None else min(64, tile // 4)
