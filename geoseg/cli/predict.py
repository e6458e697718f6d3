"""`geoseg predict`: road probability and mask GeoTIFFs for one scene."""

from __future__ import annotations

from pathlib import Path

import click

from geoseg.cli.options import (
    model_source_opts,
    radiometry_opts,
    resolve_model_source,
    run_opts,
    threshold_opt,
    tiling_opts,
    tta_amp_opts,
)
from geoseg.inference.outputs import DEFAULT_OUTPUT_FOLDER, output_paths, parse_outputs
from geoseg.io.files import claim_outputs
from geoseg.io.grid import open_grid
from geoseg.io.lock import hold_outputs
from geoseg.io.raster import COMPRESSIONS
from geoseg.io.vector import check_vector_crs, driver_for


@click.command("predict")
@click.argument("scene", type=click.Path(path_type=Path))
@model_source_opts
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder [default: predictions/ beside the scene].",
)
@tiling_opts
@tta_amp_opts
@click.option("--bands", help="1-based bands to read, e.g. 1,2,3 [default: the checkpoint's].")
@threshold_opt
@click.option(
    "--float", "float_output", is_flag=True, help="Probabilities as float32 (default: uint8 0–255)."
)
@click.option("--overviews", is_flag=True, help="Build internal overviews in the outputs.")
@click.option(
    "--preview",
    is_flag=True,
    help="Also write <name>_preview.png: the scene with the mask overlaid.",
)
@click.option(
    "--vector",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also vectorize the mask into road centerlines (.gpkg, .shp or .geojson).",
)
@radiometry_opts
@click.option(
    "--outputs",
    default="prob,mask",
    show_default=True,
    help="Which rasters to write: prob, mask or prob,mask.",
)
@click.option(
    "--compress",
    type=click.Choice(COMPRESSIONS, case_sensitive=False),
    default="deflate",
    show_default=True,
    help="Output compression.",
)
@click.option(
    "--cog",
    is_flag=True,
    help="Write Cloud-Optimized GeoTIFFs (tiled, with overviews, COG layout).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=0,
    help="Cores for reading and compressing [default: 0 = all available].",
)
@click.option(
    "--prob-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the probabilities to this .tif [default: <output>/<name>_prob.tif].",
)
@click.option(
    "--mask-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the mask to this .tif [default: <output>/<name>_mask.tif].",
)
@run_opts
def predict(
    scene: Path,
    model,
    arch,
    backbone,
    models_dir,
    out_dir,
    tile,
    overlap,
    batch_size,
    tta,
    amp,
    bands,
    threshold,
    float_output,
    overviews,
    preview,
    vector,
    outputs,
    compress,
    cog,
    threads,
    device,
    radiometry,
    resample_to_training,
    prob_out=None,
    mask_out=None,
    compile_model=False,
) -> None:
    """Predict roads in SCENE (a GeoTIFF of any size) with a trained checkpoint.

    Writes <name>_prob.tif and <name>_mask.tif on the scene's grid (by default into
    predictions/ beside the scene); nodata in the input stays nodata (internal mask,
    value 0).  Existing files are replaced only when geoseg wrote them as the same
    product, or with --overwrite; an input is never replaced.

    \b
    geoseg predict scene.tif --model runs/dlinknet_resnet34.pt -o out/
    geoseg predict scene.tif --arch adlinknet --backbone xception --tta d4 --preview
    geoseg predict scene.tif --model m.pt --vector roads.shp
    geoseg predict scene.tif --model m.pt --outputs mask --compress zstd --cog
    """
    # geoseg.pipeline pulls in the vectorizer (scipy, scikit-image: ~1.5 s): imported when
    # the command runs, not for --help
    from geoseg.inference.split import scene_split  # torch.distributed: only when run
    from geoseg.pipeline import map_scene  # lazy: --help imports every command module

    if vector is not None and "mask" not in parse_outputs(outputs):
        raise click.UsageError("--vector traces the mask: add mask to --outputs")
    ckpt = resolve_model_source(model, arch, backbone, models_dir)
    out_dir = out_dir if out_dir is not None else scene.parent / DEFAULT_OUTPUT_FOLDER
    rasters = output_paths(scene, out_dir, outputs, prob_out, mask_out, preview).claims()
    claimed: dict[str | Path, str | None] = {path: kind for path, kind in rasters.items()}
    if vector is not None:
        # an unknown format, or GeoJSON for a scene without CRS, fails now, not after
        if driver_for(vector) == "GeoJSON":
            check_vector_crs(vector, open_grid(scene, what="file", warn_no_crs=False).crs)
        claimed[vector] = "roads"
    claim_outputs(claimed, inputs=(scene, *([ckpt.path] if ckpt.path else [])))
    # under torchrun the ranks share the scene's rows; rank 0 writes (geoseg.inference.split)
    split = click.get_current_context().with_resource(scene_split(device))
    if split is None or split.assembles:  # a second run writing these outputs stops here
        click.get_current_context().with_resource(hold_outputs(claimed, "predict"))
    result = map_scene(
        scene,
        ckpt,
        out_dir,
        roads=vector if split is None or split.assembles else None,
        phases=True,  # --progress json: the prediction is 90 % of the work
        tile=tile,
        overlap=overlap,
        batch_size=batch_size,
        tta=tta,
        amp=amp,
        device=device,
        threshold=threshold,
        bands=bands,
        float_output=float_output,
        overviews=overviews,
        preview=preview,
        radiometry=radiometry,
        resample_to_training=resample_to_training,
        outputs=outputs,
        compress=compress,
        cog=cog,
        threads=threads,
        prob_out=prob_out,
        mask_out=mask_out,
        split=split,
        compile=compile_model,
    )
    # only now, with every output verified and in place, is success reported
    if split is not None and not split.assembles:
        n_tiles = result.prediction.n_tiles if result.prediction is not None else 0
        click.echo(f"rank {split.rank}: {n_tiles} tiles predicted; rank 0 writes the outputs")
        return
    if result.prob_path:
        click.echo(f"probabilities: {result.prob_path}")
    if result.mask_path:
        click.echo(f"mask:          {result.mask_path}")
    if result.preview_path:
        click.echo(f"preview:       {result.preview_path}")
    if result.road_length is not None:
        click.echo(f"roads:         {vector} ({result.n_roads} lines, {result.road_length})")
    pred = result.prediction  # predict_scene's own report: tiles and speed
    if pred is not None:
        click.echo(
            f"{pred.n_tiles} tiles in {pred.seconds:.1f} s ({pred.megapixels_per_s:.2f} MP/s)"
        )
