"""`geoseg sample-data`: placeholder until the generator lands (issue 2)."""

import click


@click.command("sample-data")
@click.argument("outdir", type=click.Path(file_okay=False))
def sample_data(outdir: str) -> None:
    """Write synthetic georeferenced road scenes with ground truth into OUTDIR."""
    raise click.ClickException("sample-data is not available yet")
