"""`geoseg predict`: road probability and mask GeoTIFFs for one scene."""

from __future__ import annotations

from pathlib import Path

import click

from geoseg.cli.options import device_opt


@click.command("predict")
@click.argument("scene", type=click.Path(path_type=Path))
@click.option("-m", "--model", type=click.Path(path_type=Path),
              help="Checkpoint (.pt) to predict with.")
@click.option("--arch", help="Architecture (unet, linknet, dlinknet, adlinknet); checked.")
@click.option("--backbone",
              help="Backbone; without --model, the newest checkpoint trained with it is used.")
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Trained checkpoints [default: $GEOSEG_MODELS or ~/.local/share/geoseg/models].")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder [default: the scene's folder].")
@click.option("--tile", type=int, default=512, show_default=True,
              help="Tile size in pixels (multiple of 32).")
@click.option("--overlap", type=int,
              help="Overlap between tiles in pixels [default: 64, at most tile/4].")
@click.option("--batch-size", type=int, default=4, show_default=True,
              help="Tiles per forward pass.")
@click.option("--tta", type=click.Choice(["none", "flip", "d4"]), default="none",
              show_default=True, help="Test-time augmentation: none, 4 flips, 8 rotations/flips.")
@click.option("--bands", help="1-based bands to read, e.g. 1,2,3 [default: the checkpoint's].")
@click.option("--threshold", type=float,
              help="Road where probability ≥ this [default: the checkpoint's, else 0.5].")
@click.option("--float", "float_output", is_flag=True,
              help="Probabilities as float32 (default: uint8 0–255).")
@click.option("--overviews", is_flag=True, help="Build internal overviews in the outputs.")
@click.option("--preview", is_flag=True,
              help="Also write <name>_preview.png: the scene with the mask overlaid.")
@device_opt
def predict(scene: Path, model, arch, backbone, models_dir, out_dir, tile, overlap, batch_size,
            tta, bands, threshold, float_output, overviews, preview, device) -> None:
    """Predict roads in SCENE (a GeoTIFF of any size) with a trained checkpoint.

    Writes <name>_prob.tif and <name>_mask.tif on the scene's grid; nodata in the
    input stays nodata (internal mask, value 0).

    \b
    geoseg predict scene.tif --model runs/dlinknet_resnet34.pt -o out/
    geoseg predict scene.tif --arch adlinknet --backbone xception --tta d4 --preview
    """
    from geoseg.predict import predict_scene, resolve_checkpoint

    if model is None and not backbone:
        raise click.UsageError("give --model CKPT, or --backbone B (and optionally --arch A)")
    ckpt = resolve_checkpoint(model, arch=arch, backbone=backbone, models_dir=models_dir)
    result = predict_scene(
        scene,
        ckpt,
        out_dir if out_dir is not None else scene.parent,
        tile=tile,
        overlap=overlap if overlap is not None else min(64, tile // 4),
        batch_size=batch_size,
        tta=tta,
        device=device,
        threshold=threshold,
        bands=bands,
        float_output=float_output,
        overviews=overviews,
        preview=preview,
    )
    click.echo(f"probabilities: {result.prob_path}")
    click.echo(f"mask:          {result.mask_path}")
    if result.preview_path:
        click.echo(f"preview:       {result.preview_path}")
    click.echo(
        f"{result.n_tiles} tiles in {result.seconds:.1f} s ({result.megapixels_per_s:.2f} MP/s)"
    )
