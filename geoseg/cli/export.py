"""`geoseg export`: a checkpoint as an ONNX model for onnxruntime and other runtimes."""

from __future__ import annotations

from pathlib import Path

import click

from geoseg.cli.options import overwrite_opt
from geoseg.errors import ConfigError
from geoseg.io.files import claim_outputs
from geoseg.io.lock import hold_outputs


@click.command("export")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--opset", type=click.IntRange(17), default=17, show_default=True, help="ONNX opset version."
)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Compare onnxruntime with torch on one random 80x80 input.",
)
@overwrite_opt
def export(checkpoint: Path, output: Path, opset: int, check: bool) -> None:
    """Export CHECKPOINT (.pt) to OUTPUT (.onnx): dynamic batch, height and width.

    The graph maps a normalised image to road logits; its metadata (arch, backbone,
    bands, normaliser, threshold, tile, TTA default, geoseg version) lets
    `geoseg predict --model OUTPUT` run it through onnxruntime like the checkpoint.

    \b
    geoseg export runs/dlinknet_resnet34.pt dlinknet.onnx
    geoseg predict scene.tif --model dlinknet.onnx
    """
    from geoseg.export import export_onnx  # lazy: loads torch; --help imports every command

    if output.suffix.lower() != ".onnx":
        raise ConfigError(f"{output}: the output name must end in .onnx")
    # a user's file at OUTPUT is refused (an earlier export replaced) before any work
    claim_outputs({output: "onnx"}, inputs=(checkpoint,))
    with hold_outputs([output], "export"):
        result = export_onnx(checkpoint, output, opset=opset, check_size=80 if check else None)
    size_mb = result.path.stat().st_size / 1e6
    click.echo(f"onnx:  {result.path} ({size_mb:.1f} MB, opset {result.opset})")
    if result.max_abs_diff is not None:
        click.echo(
            f"check: onnxruntime vs torch, max |Δlogit| {result.max_abs_diff:.2e} "
            f"on a {result.check_size}x{result.check_size} input"
        )
