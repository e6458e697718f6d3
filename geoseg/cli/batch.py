"""`geoseg batch`: map roads over many scenes / an AOI into one merged road layer."""

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


@click.command("batch")
@click.argument("scenes", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder.",
)
@model_source_opts
@click.option(
    "--aoi",
    type=click.Path(path_type=Path),
    help="Area of interest (any vector file): skip scenes outside it, clip roads to it.",
)
@click.option(
    "--crs",
    help="CRS of the merged outputs, e.g. EPSG:32633 [default: the first scene's, or its UTM zone].",
)
@click.option("--force", is_flag=True, help="Redo every scene, even those finished earlier.")
@click.option(
    "--snap",
    "snap_m",
    type=click.FloatRange(0),
    help="Join road ends across scene borders within this many metres [default: 8 px, ≥ 3 m].",
)
@tta_amp_opts
@tiling_opts
@threshold_opt
@radiometry_opts
@click.option(
    "--scenes-in-flight",
    type=click.IntRange(min=1),
    help="Scenes mapped at once per device, sharing the model, so small scenes keep "
    "the GPU busy [default: 2 on CUDA, 1 on the CPU].",
)
@run_opts
def batch(
    scenes,
    out_dir,
    model,
    arch,
    backbone,
    models_dir,
    aoi,
    crs,
    force,
    snap_m,
    tta,
    amp,
    tile,
    overlap,
    batch_size,
    threshold,
    device,
    radiometry,
    resample_to_training,
    scenes_in_flight=None,
    compile_model=False,
) -> None:
    """Map roads over SCENES (files, globs or text files listing paths) into OUTDIR.

    Per scene: OUTDIR/scenes/<name>/ (prob, mask, roads.gpkg); for the area:
    OUTDIR/roads.gpkg (merged, no duplicates in overlaps, clipped to --aoi),
    masks.vrt (masks_1.vrt, masks_2.vrt ... when the scenes lie in groups far apart),
    summary.csv and overview.png.  Rerunning resumes: finished scenes are
    skipped.  Under torchrun each rank maps its share of the scenes on its own GPU and
    rank 0 merges.  Exit code 1 when a scene failed.

    \b
    geoseg batch 'tiles/*.tif' -o county/ --model dlinknet_resnet34.pt --aoi county.gpkg
    torchrun --nnodes 2 --nproc-per-node 4 ... -m geoseg batch scenes.txt -o /shared/county --model m.pt
    """
    from geoseg.batch import run_batch  # lazy: --help imports every command module

    ckpt = resolve_model_source(model, arch, backbone, models_dir)
    result = run_batch(
        scenes,
        out_dir,
        ckpt,
        aoi=aoi,
        crs=crs,
        force=force,
        tta=tta,
        device=device,
        tile=tile,
        overlap=overlap,
        batch_size=batch_size,
        threshold=threshold,
        snap_m=snap_m,
        predict_options={
            **({} if amp else {"amp": False}),
            **({"compile": True} if compile_model else {}),
        }
        or None,
        radiometry=radiometry,
        resample_to_training=resample_to_training,
        scenes_in_flight=scenes_in_flight,
    )
    mp_s = f"{result.megapixels_per_s:.2f} MP/s" if result.processed else "nothing to do"
    if result.rank != 0:
        click.echo(
            f"rank {result.rank}: {result.processed} scenes mapped ({mp_s}), "
            f"{result.already_done} finished earlier; rank 0 merges"
        )
        return
    rows = result.scenes
    count = {s: sum(r["status"] == s for r in rows) for s in ("done", "skipped")}
    failed = result.failed
    click.echo(
        f"{len(rows)} scenes: {count['done']} mapped "
        f"({count['done'] - result.already_done} now, "
        f"{result.already_done} earlier), {len(failed)} failed, "
        f"{count['skipped']} outside the AOI  [{mp_s}, {result.seconds:.1f} s]"
    )
    for r in failed:
        click.echo(f"  failed: {r['scene']}: {r.get('error') or r['status']}")
    area = result.area
    assert area is not None  # rank 0 has merged the area
    click.echo(
        f"roads:    {area.roads_path}  ({area.n_lines} lines, {area.road_km:.2f} km, {result.crs})"
    )
    for path in area.mosaic_paths or ([area.mosaic_path] if area.mosaic_path else []):
        click.echo(f"mosaic:   {path}")
    click.echo(f"summary:  {area.summary_path}")
    click.echo(f"overview: {area.overview_path}")
    if failed:
        raise SystemExit(1)
