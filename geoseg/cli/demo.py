"""`geoseg demo`: the end-to-end demo on the bundled sample data."""

from __future__ import annotations

import click

from geoseg.cli.options import device_opt


@click.command("demo")
@click.argument("outdir", type=click.Path(file_okay=False), default="demo_output")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Model/training config: a YAML file or a shipped config's name (default: demo).",
)
@click.option(
    "--sample-dir",
    type=click.Path(file_okay=False),
    help="Sample scenes (default: the clone's sample_data/, else generated into "
    "OUTDIR/sample_data, as after a pip install).",
)
@click.option("--epochs", type=int, help="Override the config's number of epochs.")
@device_opt
def demo(
    outdir: str, config_path: str | None, sample_dir: str | None, epochs: int | None, device: str
) -> None:
    """Train a small model on the sample scenes, predict the held-out scene, score it
    (IoU, F1, APLS) and write its road centerlines (Shapefile + GeoPackage) into OUTDIR."""
    from geoseg.demo import run_demo  # trains with torch: imported when the command runs

    result = run_demo(
        outdir, config=config_path, sample_dir=sample_dir, epochs=epochs, device=device
    )
    s = result.scores
    click.echo("")
    click.echo(f"geoseg demo — {result.scene_header()}")
    click.echo(
        f"  pixel IoU      {s['iou']:.3f}   (F1 {s['f1']:.3f}, precision "
        f"{s['precision']:.3f}, recall {s['recall']:.3f}, relaxed F1 {s['relaxed_f1']:.3f})"
    )
    click.echo(f"  APLS           {s['apls']:.3f}   (junction F1 {s['junction_f1']:.3f})")
    click.echo(f"  centerlines    {s['lines']} lines, {result.road_length}")
    t = result.seconds
    click.echo(
        f"  time           train {t['train']:.0f} s, predict {t['predict']:.1f} s, "
        f"vectorize {t['vectorize']:.1f} s"
    )
    click.echo(f"  checkpoint     {result.checkpoint}")
    click.echo(f"  probability    {result.prob_path}")
    click.echo(f"  mask           {result.mask_path}")
    click.echo(f"  roads          {result.roads_shp}  (+ .gpkg, .qml styles)")
    if result.preview_path:
        click.echo(f"  preview        {result.preview_path}")
