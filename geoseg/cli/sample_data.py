"""`geoseg sample-data`: write the synthetic sample scenes with ground truth."""

from __future__ import annotations

from pathlib import Path

import click

from geoseg.cli.options import output_dir_arg, overwrite_opt, seed_opt
from geoseg.io.lock import hold_outputs
from geoseg.sample_data import DEFAULT_SIZE, make_sample_set


@click.command("sample-data")
@output_dir_arg
@click.option(
    "--size",
    type=click.IntRange(min=64),
    default=DEFAULT_SIZE,
    show_default=True,
    help="Side of the training scenes in pixels (the other scenes scale with it).",
)
@seed_opt
@overwrite_opt
def sample_data(outdir: str, size: int, seed: int) -> None:
    """Write synthetic georeferenced road scenes with ground truth into OUTDIR.

    DeepGlobe-like 0.5 m aerial scenes (UTM 33N): three training scenes, a held-out
    scene, a scene with a nodata collar and a 4-band uint16 scene, each as image
    GeoTIFF, road mask GeoTIFF and road centrelines GeoPackage, plus manifest.json
    and README.md.  The same --size and --seed give byte-identical files.
    """
    # the set is one product, known by its manifest: one run writes it at a time
    with hold_outputs([Path(outdir) / "manifest.json"], "sample-data"):
        written = make_sample_set(outdir, size=size, seed=seed)
    for path in written:
        click.echo(str(path))
    click.echo(f"{len(written)} files written to {outdir}", err=True)
