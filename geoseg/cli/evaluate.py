"""`geoseg evaluate`: score predictions against truths (IoU & co., relaxed F1, APLS)."""

from __future__ import annotations

from pathlib import Path

import click

from geoseg import evaluate as ev
from geoseg.cli.options import METRES, overwrite_opt, progress_opt
from geoseg.io.files import claim_outputs, output_set


@click.command("evaluate")
@click.argument("pred", required=False, type=click.Path(exists=True))
@click.argument("truth", required=False, type=click.Path(exists=True))
@click.option(
    "--pairs",
    "pairs_csv",
    type=click.Path(exists=True, dir_okay=False),
    help="CSV with columns pred,truth: score every listed pair.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    help="Road probability threshold for probability rasters (uint8 read as 0-255).",
)
@click.option(
    "--truth-threshold",
    type=click.FloatRange(0, 1),
    help="Same for truth rasters (default: non-zero is road).",
)
@click.option(
    "--rho",
    type=click.FloatRange(0),
    default=3,
    show_default=True,
    help="Relaxed-metric tolerance in pixels.",
)
@click.option(
    "--width-m",
    type=click.FloatRange(0, min_open=True),
    default=4.0,
    show_default=True,
    help="Road width for vector roads without a width_m field.",
)
@click.option(
    "--snap-m",
    type=METRES,
    default=4.0,
    show_default=True,
    help="APLS: snapping distance in metres.",
)
@click.option(
    "--spacing-m",
    type=click.FloatRange(0, min_open=True),
    default=50.0,
    show_default=True,
    help="APLS: control point spacing in metres.",
)
@click.option(
    "--apls-reference",
    is_flag=True,
    help="APLS with the CosmiQ reference's parameters: loop roads dropped, 0.001 m "
    "minimum path length (geoseg: 10 m), snapped points rename nodes.",
)
@click.option(
    "--junction-radius-m",
    type=METRES,
    default=5.0,
    show_default=True,
    help="Junction F1: matching radius in metres.",
)
@click.option(
    "--block",
    type=click.IntRange(64),
    default=2048,
    show_default=True,
    help="Block size in pixels (memory ~ block²).",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write a JSON report.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write a CSV report.")
@overwrite_opt
@progress_opt
def evaluate(
    pred,
    truth,
    pairs_csv,
    threshold,
    truth_threshold,
    rho,
    width_m,
    snap_m,
    spacing_m,
    apls_reference,
    junction_radius_m,
    block,
    json_path,
    csv_path,
) -> None:
    """Score PRED against TRUTH: two files, two folders (matched by name, ignoring
    _mask/_pred/_roads...), or the pairs of --pairs.

    Rasters give IoU, precision, recall, F1 and relaxed F1 (a prediction on another grid is
    warped onto the truth's); vector truth is rasterized with its width_m; two vector
    layers give APLS and junction F1.
    """
    if pairs_csv:
        if pred or truth:
            raise click.UsageError("give either PRED TRUTH or --pairs, not both")
        pairs = ev.pairs_from_csv(pairs_csv)
    elif pred and truth:
        if Path(pred).is_dir() != Path(truth).is_dir():
            raise click.UsageError("PRED and TRUTH must both be files or both be folders")
        pairs = ev.pairs_from_folders(pred, truth) if Path(pred).is_dir() else [(pred, truth)]
    else:
        raise click.UsageError("give PRED and TRUTH, or --pairs")
    reports: dict[str | Path, str | None] = {p: "report" for p in (json_path, csv_path) if p}
    claim_outputs(reports, inputs=tuple(x for pair in pairs for x in pair))
    options = ev.EvalOptions(
        threshold=threshold,
        truth_threshold=truth_threshold,
        rho=rho,
        block=block,
        default_width_m=width_m,
        control_spacing_m=spacing_m,
        snap_m=snap_m,
        junction_radius_m=junction_radius_m,
        apls_reference=apls_reference,
    )
    report = ev.evaluate_pairs(pairs, options)
    click.echo(ev.format_table(report))
    with output_set():  # both reports appear together
        if json_path:
            ev.write_json(report, json_path)
        if csv_path:
            ev.write_csv(report, csv_path)
