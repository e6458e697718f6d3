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
models_dir_opt = click.option(
    "--models-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Model directory (default: $GEOSEG_MODELS or ~/.local/share/geoseg/models).",
)
