"""`geoseg train`: train a road segmenter from a YAML config (plus command-line overrides)."""

from __future__ import annotations

import os
from typing import Any, Optional

import click

from geoseg.cli.options import config_opt, device_opt, models_dir_opt, overwrite_opt
from geoseg.config import RunConfig, config_from_dict, load_config

_paths = click.Path(dir_okay=False)


def _overrides(**kw: Any) -> dict[str, dict[str, Any]]:
    """Command-line values that were given, as a partial config."""
    where = {
        "data_dir": ("data", "deepglobe"),
        "scenes": ("data", "scenes"),
        "masks": ("data", "masks"),
        "labels": ("data", "labels"),
        "val_scenes": ("data", "val_scenes"),
        "val_masks": ("data", "val_masks"),
        "val_labels": ("data", "val_labels"),
        "tile": ("data", "tile"),
        "batch_size": ("data", "batch_size"),
        "epochs": ("train", "epochs"),
        "max_steps": ("train", "max_steps"),
    }
    out: dict[str, dict[str, Any]] = {}
    for key, value in kw.items():
        if value is None or value == ():
            continue
        section, name = where[key]
        out.setdefault(section, {})[name] = list(value) if isinstance(value, tuple) else value
    return out


@click.command("train")
@config_opt
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="DeepGlobe-style folder of <id>_sat.jpg + <id>_mask.png (data.deepglobe).",
)
@click.option("--scenes", multiple=True, type=_paths, help="Training GeoTIFF (repeat).")
@click.option("--masks", multiple=True, type=_paths, help="Mask GeoTIFF per scene (repeat).")
@click.option(
    "--labels",
    multiple=True,
    type=_paths,
    help="Road centerlines (shp/gpkg/geojson) per scene, or one for all (repeat).",
)
@click.option("--val-scenes", multiple=True, type=_paths, help="Validation GeoTIFF (repeat).")
@click.option(
    "--val-masks",
    multiple=True,
    type=_paths,
    help="Mask GeoTIFF per validation scene (repeat; data.val_masks).",
)
@click.option(
    "--val-labels",
    multiple=True,
    type=_paths,
    help="Road centerlines per validation scene, or one for all (repeat; data.val_labels).",
)
@click.option("--tile", type=int, help="Training window size in pixels (data.tile).")
@click.option("--batch-size", type=int, help="Batch size per process (data.batch_size).")
@click.option("--epochs", type=int, help="Number of epochs (train.epochs).")
@click.option("--max-steps", type=int, help="Stop after this many optimizer steps.")
@click.option(
    "--encoder-weights",
    metavar="none|imagenet|FILE",
    help="Encoder initialisation (model.encoder_weights): none (random, offline), "
    "imagenet (timm download, cached) or a timm state-dict file.",
)
@models_dir_opt
@click.option(
    "-o",
    "--out-dir",
    type=click.Path(file_okay=False),
    help="Run folder for metrics.csv, curves.png, last.pt (default runs/<name>).",
)
@click.option(
    "--resume",
    type=click.Path(dir_okay=False),
    help="Continue a run from its last.pt (same optimizer state and epoch; without "
    "-c, with the run's own config).",
)
@device_opt
@overwrite_opt
def train(
    config_path: Optional[str],
    models_dir: Optional[str],
    out_dir: Optional[str],
    resume: Optional[str],
    device: str,
    **overrides: Any,
) -> None:
    """Train a road segmentation model (D-LinkNet's recipe, AMP, DDP under torchrun).

    The best checkpoint (by validation IoU, with its chosen threshold) goes into the
    models directory, where `geoseg predict --backbone X` finds it.

    -c takes a YAML file or a shipped config's name (`geoseg configs` lists them).

    \b
    geoseg train -c demo --scenes a.tif --masks a_mask.tif
    geoseg train -c unet_vgg16 --data-dir deepglobe/train --encoder-weights none
    torchrun --nproc-per-node 2 -m geoseg train -c dlinknet_resnet34 \\
        --data-dir deepglobe/train
    """
    from geoseg.train import train_model  # lazy: loads torch; --help imports every command
    from geoseg.train.api import (
        config_from_checkpoint,
    )  # lazy: loads torch; --help imports every command

    if config_path:
        cfg = load_config(config_path)
    else:  # resuming without -c continues with the run's own config
        cfg = config_from_checkpoint(resume) if resume else RunConfig()
    encoder_weights = overrides.pop("encoder_weights", None)
    extra = _overrides(**overrides)
    if encoder_weights is not None:
        from geoseg.models.weights import (
            parse_encoder_weights,
        )  # lazy: loads torch; --help imports every command

        extra.setdefault("model", {})["encoder_weights"] = parse_encoder_weights(encoder_weights)
    if extra:
        merged = cfg.to_dict()
        for section, values in extra.items():
            merged[section].update(values)
        cfg = config_from_dict(merged, f"{config_path or resume or 'defaults'} + command line")
    result = train_model(cfg, models_dir=models_dir, out_dir=out_dir, resume=resume, device=device)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    m = result.best_metrics
    iou = (
        f"val IoU {m['val_iou']:.4f} at threshold {m['threshold']:.2f}"
        if "val_iou" in m
        else f"train loss {m.get('train_loss', float('nan')):.4f} (no validation data)"
    )
    click.echo(f"best checkpoint: {result.checkpoint_path} ({iou})")
    click.echo(f"run folder: {result.run_dir} (metrics.csv, curves.png, last.pt)")
