"""`geoseg predict`: road probability and mask GeoTIFFs for one scene."""

from __future__ import annotations

from pathlib import Path

import click

from geoseg.cli.options import (
    batch_size_opt,
    device_opt,
    model_source_opts,
    overlap_opt,
    resolve_model_source,
    threshold_opt,
    tile_opt,
    tile_overlap,
    tta_opt,
    amp_opt,
    progress_opt,
)


@click.command("predict")
@click.argument("scene", type=click.Path(path_type=Path))
@model_source_opts
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder [default: the scene's folder].")
@tile_opt
@overlap_opt
@batch_size_opt
@tta_opt
@amp_opt
@click.option("--bands", help="1-based bands to read, e.g. 1,2,3 [default: the checkpoint's].")
@threshold_opt
@click.option("--float", "float_output", is_flag=True,
              help="Probabilities as float32 (default: uint8 0–255).")
@click.option("--overviews", is_flag=True, help="Build internal overviews in the outputs.")
@click.option("--preview", is_flag=True,
              help="Also write <name>_preview.png: the scene with the mask overlaid.")
@click.option("--vector", type=click.Path(dir_okay=False, path_type=Path),
              help="Also vectorize the mask into road centerlines (.gpkg, .shp or .geojson).")
@click.option("--prob-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the probabilities to this .tif [default: <output>/<name>_prob.tif].")
@click.option("--mask-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the mask to this .tif [default: <output>/<name>_mask.tif].")
@device_opt
@progress_opt
def predict(scene: Path, model, arch, backbone, models_dir, out_dir, tile, overlap, batch_size,
            tta, amp, bands, threshold, float_output, overviews, preview, vector, device,
            prob_out=None, mask_out=None) -> None:
    """Predict roads in SCENE (a GeoTIFF of any size) with a trained checkpoint.

    Writes <name>_prob.tif and <name>_mask.tif on the scene's grid; nodata in the
    input stays nodata (internal mask, value 0).

    \b
    geoseg predict scene.tif --model runs/dlinknet_resnet34.pt -o out/
    geoseg predict scene.tif --arch adlinknet --backbone xception --tta d4 --preview
    geoseg predict scene.tif --model m.pt --vector roads.shp
    """
    from geoseg.predict import predict_scene
    from geoseg.progress import phase

    ckpt = resolve_model_source(model, arch, backbone, models_dir)
    if vector is not None:
        from geoseg.io.vector import driver_for

        driver_for(vector)  # an unknown format fails now, not after the prediction
        phase(0.0, 0.9)  # --progress json: the prediction is 90 % of the work
    result = predict_scene(
        scene,
        ckpt,
        out_dir if out_dir is not None else scene.parent,
        tile=tile,
        overlap=tile_overlap(tile, overlap),
        batch_size=batch_size,
        tta=tta,
        amp=amp,
        device=device,
        threshold=threshold,
        bands=bands,
        float_output=float_output,
        overviews=overviews,
        preview=preview,
        prob_out=prob_out,
        mask_out=mask_out,
    )
    click.echo(f"probabilities: {result.prob_path}")
    click.echo(f"mask:          {result.mask_path}")
    if result.preview_path:
        click.echo(f"preview:       {result.preview_path}")
    if vector is not None:
        from geoseg.vectorize import vectorize_to_file

        phase(0.9, 1.0, "vectorize")
        roads = vectorize_to_file(result.mask_path, vector, prob=result.prob_path)
        km = float(roads["length_m"].sum()) / 1000.0 if len(roads) else 0.0
        click.echo(f"roads:         {vector} ({len(roads)} lines, {km:.2f} km)")
    click.echo(
        f"{result.n_tiles} tiles in {result.seconds:.1f} s ({result.megapixels_per_s:.2f} MP/s)"
    )
