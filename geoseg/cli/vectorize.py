"""`geoseg vectorize`: road mask → centreline layer (GeoPackage, Shapefile or GeoJSON)."""

from __future__ import annotations

import click

from geoseg.cli.options import METRES, overwrite_opt, progress_opt
from geoseg.io.files import claim_outputs
from geoseg.io.lock import hold_outputs
from geoseg.io.vector import road_length
from geoseg.vectorize import vectorize_to_file


@click.command("vectorize")
@click.argument("mask", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output layer: .gpkg (recommended), .shp or .geojson.",
)
@click.option(
    "--prob",
    type=click.Path(dir_okay=False),
    help="Probability raster on the mask's grid, for the mean_prob attribute.",
)
@click.option(
    "--min-blob-m2", type=METRES, help="Drop road blobs smaller than this [max(20 m², 32 px)]."
)
@click.option("--hole-m2", type=METRES, help="Fill holes smaller than this [max(20 m², 32 px)].")
@click.option(
    "--prune-m", type=METRES, help="Remove dead-end spurs shorter than this [max(10 m, 5 px)]."
)
@click.option(
    "--bridge-m", type=METRES, help="Join aligned dead ends closer than this [max(10 m, 4 px)]."
)
@click.option("--simplify-m", type=METRES, help="Douglas–Peucker tolerance [1 pixel].")
@click.option(
    "--block-size",
    type=click.IntRange(64),
    default=4096,
    show_default=True,
    help="Process the mask in blocks of this many pixels (bounded memory).",
)
@click.option("--no-style", is_flag=True, help="Do not write the QGIS .qml style.")
@overwrite_opt
@progress_opt
def vectorize(
    mask: str,
    output: str,
    prob: str | None,
    min_blob_m2: float | None,
    hole_m2: float | None,
    prune_m: float | None,
    bridge_m: float | None,
    simplify_m: float | None,
    block_size: int,
    no_style: bool,
) -> None:
    """Turn road MASK (0/1 or 0/255 GeoTIFF) into georeferenced centrelines.

    Lines carry id, node_from/node_to (a routable graph), length_m, width_m and, with
    --prob, mean_prob.  Defaults in [brackets] follow the pixel size.
    """
    # lazy: loads scikit-image, and --help imports every command module

    claim_outputs({output: "roads"}, inputs=tuple(p for p in (mask, prob) if p))
    click.get_current_context().with_resource(hold_outputs([output], "vectorize"))
    roads = vectorize_to_file(
        mask,
        output,
        prob,
        style=not no_style,
        min_area_m2=min_blob_m2,
        hole_area_m2=hole_m2,
        prune_m=prune_m,
        bridge_m=bridge_m,
        simplify_m=simplify_m,
        block_size=block_size,
    )
    nodes = len(set(roads["node_from"]) | set(roads["node_to"]))
    click.echo(f"{output}: {len(roads)} lines, {nodes} nodes, {road_length(roads)} of road")
