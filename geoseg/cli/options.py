"""Options shared by several commands, defined once (rasterio's `rio/options.py` idea)."""

from __future__ import annotations

import click

seed_opt = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
device_opt = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="Torch device: auto (CUDA when present, else CPU), cpu, cuda, cuda:1 ...",
)
config_opt = click.option(
    "-c", "--config", "config_path", type=click.Path(dir_okay=False), help="YAML config file."
)
output_dir_arg = click.argument("outdir", type=click.Path(file_okay=False))
tta_opt = click.option(
    "--tta", type=click.Choice(["none", "flip", "d4"]), default="none", show_default=True,
    help="Test-time augmentation: none, 4 flips, or all 8 rotations/reflections.",
)
tile_opt = click.option(
    "--tile", type=int, default=512, show_default=True, help="Tile size in pixels (multiple of 32)."
)
overlap_opt = click.option(
    "--overlap", type=int, default=64, show_default=True, help="Overlap between tiles in pixels."
)
batch_size_opt = click.option(
    "--batch-size", type=int, default=4, show_default=True, help="Tiles per forward pass."
)
threshold_opt = click.option(
    "--threshold", type=float, help="Road if probability ≥ this [default: the checkpoint's, else 0.5]."
)
models_dir_opt = click.option(
    "--models-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Model directory (default: $GEOSEG_MODELS or ~/.local/share/geoseg/models).",
)
