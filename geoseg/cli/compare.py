"""`geoseg compare`: train (or take) several models on one split and write Table 2."""

from __future__ import annotations

from typing import Optional

import click

from geoseg.cli.options import device_opt, overwrite_opt


@click.command("compare")
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder of <name>.tif + <name>_mask.tif (+ <name>_roads.gpkg) scenes, "
    "or a DeepGlobe folder of <id>_sat.jpg + <id>_mask.png.",
)
@click.option(
    "-k",
    "--checkpoints",
    "--checkpoint",
    "checkpoints",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Trained checkpoint to use instead of training (repeat); it replaces the "
    "config of the same architecture and backbone.",
)
@click.option(
    "-o",
    "--out-dir",
    default="compare",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for table.md, table.csv, chart.png, models, runs, predictions.",
)
@click.option("--epochs", type=click.IntRange(1), help="Override train.epochs of every config.")
@click.option(
    "--encoder-weights",
    metavar="none|imagenet|FILE",
    help="Override model.encoder_weights of every config: none (random, offline), "
    "imagenet (timm download) or a timm state-dict file.",
)
@click.option(
    "--holdout",
    multiple=True,
    help="Name of an image to hold out for scoring (repeat; default: the scenes "
    "a manifest.json does not mark as train, else the last 20% by name).",
)
@device_opt
@overwrite_opt
def compare(
    configs: tuple[str, ...],
    data_dir: str,
    checkpoints: tuple[str, ...],
    out_dir: str,
    epochs: Optional[int],
    encoder_weights: Optional[str],
    holdout: tuple[str, ...],
    device: str,
) -> None:
    """Compare the models of CONFIGS on the same held-out images of --data.

    CONFIGS are YAML files or shipped configs' names (`geoseg configs` lists them).
    Each config is trained on the training images (unless a checkpoint is given), then
    predicts the held-out images, which are scored with IoU (accumulated and per-image
    mean), F1 and APLS, and timed (MP/s).  Writes the paper's Table 2 as Markdown and
    CSV and a bar chart.

    \b
    geoseg compare configs/unet_vgg16.yaml configs/adlinknet_*.yaml --data deepglobe/train
    geoseg compare unet_vgg16 adlinknet_resnet34 --data deepglobe/train --encoder-weights none
    geoseg compare a.yaml b.yaml --data sample_data -k a.pt -k b.pt -o cmp
    """
    # geoseg.compare trains and predicts with torch: imported when the command runs
    from geoseg.compare import compare_models
    from geoseg.compare.table import markdown  # lazy: --help imports every command module

    result = compare_models(
        configs,
        data_dir,
        checkpoints=checkpoints,
        out_dir=out_dir,
        epochs=epochs,
        holdout=holdout,
        device=device,
        encoder_weights=encoder_weights,
    )
    click.echo(markdown(result))
    click.echo("wrote " + ", ".join(str(p) for p in result.outputs.values()))
