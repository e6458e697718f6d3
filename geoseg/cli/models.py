"""`geoseg models`: the architectures and backbones, with measured size and cost;
``--available`` lists published trained weights, ``import`` / ``pull`` bring them in."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from geoseg.cli.options import models_dir_opt, overwrite_opt
from geoseg.inference.predictor import TTA_MODES
from geoseg.io.files import claim_outputs, ensure_writable_dir
from geoseg.io.lock import hold_outputs


@click.group("models", invoke_without_command=True)
@click.option("--arch", "archs", multiple=True, help="Only this architecture (repeatable).")
@click.option(
    "--backbone",
    "backbones",
    multiple=True,
    help="Backbone alias or any timm name (repeatable); default: the seed backbones.",
)
@click.option(
    "--size",
    default=1024,
    show_default=True,
    type=click.IntRange(32),
    help="Square input side for the GFLOPs column.",
)
@click.option(
    "--available", is_flag=True, help="List published trained weights (the catalog) instead."
)
@click.pass_context
def models(
    ctx: click.Context,
    archs: tuple[str, ...],
    backbones: tuple[str, ...],
    size: int,
    available: bool,
) -> None:
    """List architectures x backbones with parameter counts and measured GFLOPs.

    \b
    geoseg models --available                 published trained weights
    geoseg models pull dlinknet34-deepglobe --from log01_dink34.th
    geoseg models import weights.pth --format smp -o unet.pt
    """
    if ctx.invoked_subcommand is not None:
        return
    if available:
        _print_catalog()
        return
    from geoseg.models import (
        BACKBONE_ALIASES,
        list_archs,
    )  # lazy: loads torch; --help imports every command
    from geoseg.models.summary import (
        iter_model_table,
    )  # lazy: loads torch; --help imports every command

    archs = archs or tuple(list_archs())
    backbones = backbones or tuple(BACKBONE_ALIASES)
    rows = list(
        tqdm(
            iter_model_table(archs, backbones, size),
            total=len(archs) * len(backbones),
            desc="measuring",
            unit="model",
            leave=False,
            disable=None,
        )
    )
    header = ("arch", "backbone", "timm encoder", "params (M)", f"GFLOPs @{size}²")
    table = [
        (r.arch, r.backbone, r.timm_name, f"{r.params / 1e6:.2f}", f"{r.gflops:.1f}") for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        left = "  ".join(c.ljust(w) for c, w in zip(row[:3], widths[:3]))
        click.echo(left + "  " + "  ".join(c.rjust(w) for c, w in zip(row[3:], widths[3:])))
    aliases = ", ".join(k if k == v else f"{k} ({v})" for k, v in BACKBONE_ALIASES.items())
    click.echo(
        f"\nGFLOPs measured with torch FlopCounterMode (batch 1, eval; 1 multiply-add = 2 FLOPs); "
        f"params include AD-LinkNet's training-only auxiliary heads.\n"
        f"Backbones: {aliases}"
        "; any other timm model with features_only also works (e.g. --backbone efficientnet_b0)."
    )


def _print_catalog() -> None:
    from geoseg.models.catalog import (
        catalog_path,
        describe,
        load_catalog,
    )  # lazy: loads torch; --help imports every command

    entries = load_catalog()
    for i, entry in enumerate(entries.values()):
        if i:
            click.echo("")
        for line in describe(entry):
            click.echo(line)
    click.echo(
        f"\n{len(entries)} model(s) in {catalog_path()}; fetch one with `geoseg models pull NAME`."
    )


def _bands(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        bands = [int(b) for b in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected 1-based band numbers such as 3,2,1, got {value!r}")
    if any(b < 1 for b in bands):
        raise click.BadParameter(f"band numbers start at 1, got {value!r}")
    return bands


@models.command("import")
@click.argument("weights", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["dlinknet34", "smp"]),
    help="Layout of WEIGHTS: the D-LinkNet repository's DinkNet34, or a "
    "segmentation_models_pytorch Unet/Linknet.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Checkpoint to write [default: <arch>_<backbone>_<time>.pt in the models "
    "directory, where --backbone finds it].",
)
@models_dir_opt
@click.option(
    "--backbone",
    help="smp: the encoder's timm name when it cannot be inferred (e.g. resnext50_32x4d).",
)
@click.option(
    "--bands",
    help="1-based bands the network reads, in its order "
    "[default: dlinknet34 3,2,1 (BGR); smp 1,2,3].",
)
@click.option("--threshold", type=float, help="Road if probability ≥ this [default: 0.5].")
@click.option("--tile", type=int, help="Default tile for predict [default: dlinknet34 1024].")
@click.option(
    "--tta",
    type=click.Choice(list(TTA_MODES)),
    help="Default TTA for predict [default: dlinknet34 d4, smp none].",
)
@overwrite_opt
def models_import(
    weights: Path,
    fmt: str,
    output: Path | None,
    models_dir: Path | None,
    backbone: str | None,
    bands: str | None,
    threshold: float | None,
    tile: int | None,
    tta: str | None,
) -> None:
    """Import trained WEIGHTS from another tool as a geoseg checkpoint.

    The file is loaded with torch.load(weights_only=True): pickled code is refused.

    \b
    geoseg models import log01_dink34.th --format dlinknet34 -o dlinknet34.pt
    geoseg predict scene.tif --model dlinknet34.pt
    """
    # lazy: these load torch, and --help imports every command module
    from geoseg.checkpoint import default_models_dir
    from geoseg.models.catalog import (
        unique_checkpoint_path,
    )  # lazy: --help imports every command module
    from geoseg.models.importers import import_weights  # lazy: --help imports every command module

    if output is not None and output.exists() and weights.exists() and output.samefile(weights):
        raise click.UsageError("the output (-o) must not be the weights file being imported")
    if output is not None:  # a user's file there is refused before the weights are read
        claim_outputs({output: "checkpoint"}, inputs=(weights,))
    ckpt = import_weights(
        weights,
        fmt,
        backbone=backbone,
        bands=_bands(bands),
        threshold=threshold,
        tile=tile,
        tta=tta,
    )
    if output is None:
        folder = ensure_writable_dir(models_dir or default_models_dir())
        output = unique_checkpoint_path(folder, ckpt.arch, ckpt.backbone)
    with hold_outputs([output], "models import"):
        _report(ckpt.save(output), ckpt)


@models.command("pull")
@click.argument("name")
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Use this file (downloaded by hand) instead of downloading.",
)
@click.option(
    "--sha256",
    help="Expected sha256 of the weights (needed to download an entry whose publisher gives none).",
)
@models_dir_opt
def models_pull(
    name: str, from_file: Path | None, sha256: str | None, models_dir: Path | None
) -> None:
    """Download catalog model NAME, verify its sha256, import and store it.

    \b
    geoseg models --available
    geoseg models pull dlinknet34-deepglobe --from log01_dink34.th
    geoseg predict scene.tif --backbone resnet34
    """
    from geoseg.checkpoint import load_checkpoint  # lazy: loads torch; --help imports every command
    from geoseg.models.catalog import pull  # lazy: loads torch; --help imports every command

    path = pull(name, from_file=from_file, sha256=sha256, models_dir=models_dir)
    _report(path, load_checkpoint(path))


def _report(path: Path, ckpt) -> None:
    """What an imported checkpoint (a geoseg.checkpoint.Checkpoint) records."""
    source = ckpt.source or {}
    bands = ",".join(str(b) for b in ckpt.bands) if ckpt.bands else "all"
    threshold = f"{ckpt.threshold:g}" if ckpt.threshold is not None else "0.5 (default)"
    click.echo(f"checkpoint: {path}")
    click.echo(
        f"model:      {ckpt.arch}/{ckpt.backbone} ({source.get('layout', 'imported')}), "
        f"bands {bands}, threshold {threshold}"
        + "".join(f", {k} {v}" for k, v in ckpt.predict_defaults.items())
    )
    click.echo(f"sha256:     {source.get('sha256')} ({source.get('file')})")
