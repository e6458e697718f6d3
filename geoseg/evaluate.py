"""Score predictions against truths: pixel metrics for masks, APLS for road networks.

A pair is scored by the kinds of its two files (see :mod:`geoseg.metrics.inputs`):

* raster vs raster, raster vs vector, vector vs raster: pixel metrics on the truth's
  grid (or the raster's), blockwise, nodata excluded — IoU, precision, recall, F1,
  accuracy, relaxed precision/recall/F1;
* vector vs vector: APLS (both halves) and junction F1 (:mod:`geoseg.metrics.apls`).

:func:`evaluate_pairs` scores many pairs and summarises them: for pixel pairs both the
dataset-accumulated metrics (one confusion matrix over all images, DeepGlobe's IoU) and
the mean of per-image metrics; for APLS pairs the mean of each score over the pairs where
APLS is defined.  Undefined scores are said to be undefined, never silently 0 or 1: two
empty road networks leave APLS undefined (the pair is listed with "–" and a note, left out
of the mean); a truth without road leaves recall undefined (scikit-learn's
``zero_division=1`` value is kept in the numbers, and the log says so).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from geoseg.errors import DataError, GeoSegError
from geoseg.io.files import write_text_output
from geoseg.io.provenance import report_header
from geoseg.metrics.apls import NoRoadToScore, apls
from geoseg.metrics.inputs import DEFAULT_WIDTH_M, check_overlap, kind_of, open_pair, read_lines
from geoseg.metrics.pixel import (
    DEFAULT_BLOCK,
    DEFAULT_RHO,
    PixelScores,
    ScoreAccumulator,
    score_blockwise,
)
from geoseg.progress import tqdm

log = logging.getLogger(__name__)

# name parts dropped when matching files of two folders: roads_mask.tif ~ roads.geojson
MATCH_SUFFIXES = ("mask", "pred", "prediction", "prob", "roads", "truth", "gt", "label", "labels")
PIXEL_COLUMNS = (
    "iou",
    "precision",
    "recall",
    "f1",
    "accuracy",
    "relaxed_precision",
    "relaxed_recall",
    "relaxed_f1",
)
APLS_COLUMNS = (
    "apls",
    "apls_gt_to_prop",
    "apls_prop_to_gt",
    "junction_f1",
    "junction_precision",
    "junction_recall",
)


@dataclass(frozen=True)
class EvalOptions:
    """Settings of a scoring run (all lengths in metres, rho in pixels)."""

    threshold: float | None = None
    truth_threshold: float | None = None
    rho: float = DEFAULT_RHO
    block: int = DEFAULT_BLOCK
    default_width_m: float = DEFAULT_WIDTH_M
    control_spacing_m: float = 50.0
    snap_m: float = 4.0
    junction_radius_m: float = 5.0
    apls_reference: bool = False  # the CosmiQ reference's APLS parameters (see metrics.apls)


@dataclass
class PairResult:
    """Scores of one prediction/truth pair; `kind` is 'pixel' or 'apls'."""

    name: str
    pred: str
    truth: str
    kind: str
    scores: dict[str, float | int | None]
    pixel: PixelScores | None = None
    undefined: str | None = None  # why the pair's scores are undefined (None: scored)


@dataclass
class EvaluationReport:
    """All pair results plus their summary."""

    pairs: list[PairResult] = field(default_factory=list)
    options: EvalOptions = field(default_factory=EvalOptions)

    def summary(self) -> dict:
        out: dict = {}
        pixel = [p for p in self.pairs if p.kind == "pixel"]
        if pixel:
            acc = ScoreAccumulator()
            for p in pixel:
                assert p.pixel is not None  # every pixel pair carries its scores
                acc.add(p.name, p.pixel)
            out["pixel"] = {
                "images": len(pixel),
                "accumulated": acc.accumulated.to_dict(),
                "mean": acc.mean(),
            }
        graphs = [p for p in self.pairs if p.kind == "apls"]
        if graphs:
            scored = [p for p in graphs if p.undefined is None]
            out["apls"] = {
                "pairs": len(graphs),
                "scored": len(scored),  # pairs the mean is over
                "undefined": {p.name: p.undefined for p in graphs if p.undefined is not None},
                "mean": {
                    k: sum(float(p.scores[k] or 0) for p in scored) / len(scored)
                    if scored
                    else None
                    for k in APLS_COLUMNS
                },
            }
        return out

    def notes(self) -> list[str]:
        """One line per undefined score, and what the APLS mean is over."""
        out = [f"{p.name}: {p.undefined}" for p in self.pairs if p.undefined is not None]
        apls_summary = self.summary().get("apls")
        if apls_summary and apls_summary["undefined"]:
            out.append(
                f"APLS mean over {apls_summary['scored']} of {apls_summary['pairs']} pairs "
                "(undefined ones left out)"
            )
        return out

    def to_json(self) -> dict:
        return {
            "options": vars(self.options),
            "pairs": [
                {"name": p.name, "pred": p.pred, "truth": p.truth, "kind": p.kind, **p.scores}
                for p in self.pairs
            ],
            "summary": self.summary(),
        }

    def rows(self) -> list[dict]:
        """Flat rows for CSV: one per pair, then the summary rows."""
        rows = [
            {"name": p.name, "kind": p.kind, "pred": p.pred, "truth": p.truth, **p.scores}
            for p in self.pairs
        ]
        summary = self.summary()
        if "pixel" in summary:
            rows.append(
                {"name": "ALL (accumulated)", "kind": "pixel", **summary["pixel"]["accumulated"]}
            )
            rows.append(
                {"name": "ALL (mean of images)", "kind": "pixel", **summary["pixel"]["mean"]}
            )
        if "apls" in summary:
            rows.append({"name": "ALL (mean)", "kind": "apls", **summary["apls"]["mean"]})
        return rows


def evaluate_pair(
    pred: str | Path,
    truth: str | Path,
    options: EvalOptions = EvalOptions(),
    name: str | None = None,
) -> PairResult:
    """Score one prediction file against one truth file (kinds decide the metrics)."""
    pred, truth = Path(pred), Path(truth)
    name = name or match_key(truth)
    if (kind_of(pred), kind_of(truth)) == ("vector", "vector"):
        p, t = read_lines(pred), read_lines(truth)
        try:
            res = apls(
                t,
                p,
                control_spacing_m=options.control_spacing_m,
                snap_m=options.snap_m,
                junction_radius_m=options.junction_radius_m,
                reference=options.apls_reference,
            )
        except NoRoadToScore as exc:
            raise NoRoadToScore(f"{pred} vs {truth}: {exc}") from None
        except DataError as exc:
            raise DataError(f"{pred} vs {truth}: {exc}") from None
        return PairResult(name, str(pred), str(truth), "apls", res.to_dict())
    with open_pair(
        pred,
        truth,
        threshold=options.threshold,
        truth_threshold=options.truth_threshold,
        default_width_m=options.default_width_m,
    ) as (grid, read):
        n_blocks = -(-grid.height // options.block) * -(-grid.width // options.block)
        scores = score_blockwise(
            read,
            grid.height,
            grid.width,
            rho=options.rho,
            block=options.block,
            progress=n_blocks > 4,
        )
        read.check()
    c = scores.confusion
    if c.tp + c.fp + c.fn == 0:
        log.info(
            "%s: no road in %s nor in %s over %d valid pixels: IoU, precision, recall "
            "and F1 are 1 (perfect agreement)",
            name,
            truth,
            pred,
            c.total,
        )
    elif c.tp + c.fn == 0:
        log.info(
            "%s: recall is undefined (no road in %s over %d valid pixels); reported as 1 "
            "(zero_division=1), IoU and precision are 0",
            name,
            truth,
            c.total,
        )
    elif c.tp + c.fp == 0:
        log.info(
            "%s: precision is undefined (no road predicted in %s over %d valid pixels); "
            "reported as 1 (zero_division=1), IoU and recall are 0",
            name,
            pred,
            c.total,
        )
    return PairResult(name, str(pred), str(truth), "pixel", scores.to_dict(), scores)


def evaluate_pairs(
    pairs: Sequence[tuple[str | Path, str | Path]], options: EvalOptions = EvalOptions()
) -> EvaluationReport:
    """Score every (pred, truth) pair; names are the truths' match keys (made unique)."""

    if not pairs:
        raise DataError("no prediction/truth pair to score")
    # every pair must have pixels to score: extents first (headers only), so a run over
    # many pairs does not stop late; all-nodata pairs are refused as they are scored
    for pred, truth in pairs:
        check_overlap(pred, truth)
    report = EvaluationReport(options=options)
    seen: dict[str, int] = {}
    for pred, truth in tqdm(pairs, desc="evaluate", unit="pair", disable=len(pairs) < 2):
        name = match_key(Path(truth))
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}#{seen[name]}"
        try:
            report.pairs.append(evaluate_pair(pred, truth, options, name))
        except NoRoadToScore:
            why = f"APLS undefined: no road in {truth} nor in {pred}"
            log.warning("%s: %s", name, why)
            undefined = dict.fromkeys(APLS_COLUMNS, None)
            report.pairs.append(
                PairResult(name, str(pred), str(truth), "apls", undefined, undefined=why)
            )
    return report


def match_key(path: Path) -> str:
    """File stem without trailing _mask/_pred/_roads... parts: the name pairs match on."""
    stem = Path(path).name.split(".")[0]
    pattern = re.compile(r"[_-](%s)$" % "|".join(MATCH_SUFFIXES), re.IGNORECASE)
    while True:
        shorter = pattern.sub("", stem)
        if shorter == stem or not shorter:
            return stem
        stem = shorter


def _scorable(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        try:
            kind_of(f)
        except GeoSegError:
            continue
        if f.name.startswith("."):
            continue
        key = match_key(f)
        if key in found:
            raise DataError(f"{folder}: {found[key].name} and {f.name} both match {key!r}")
        found[key] = f
    return found


def pairs_from_folders(pred_dir: str | Path, truth_dir: str | Path) -> list[tuple[Path, Path]]:
    """Pairs of files of two folders with the same name once _mask/_pred/... are dropped."""
    pred_dir, truth_dir = Path(pred_dir), Path(truth_dir)
    preds, truths = _scorable(pred_dir), _scorable(truth_dir)
    keys = sorted(set(preds) & set(truths))
    if not keys:
        raise DataError(f"{pred_dir}: no file matches a file of {truth_dir} by name")
    for label, extra in (
        ("prediction", set(preds) - set(truths)),
        ("truth", set(truths) - set(preds)),
    ):
        if extra:
            log.warning(
                "%d %s file(s) without a partner: %s",
                len(extra),
                label,
                ", ".join(sorted(extra)[:5]),
            )
    return [(preds[k], truths[k]) for k in keys]


def pairs_from_csv(path: str | Path) -> list[tuple[Path, Path]]:
    """Pairs listed in a CSV with columns pred,truth (relative paths: from the CSV's folder)."""
    path = Path(path)
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"pred", "truth"} <= set(reader.fieldnames):
                raise DataError(f"{path}: needs a header with columns pred,truth")
            rows = [(r["pred"], r["truth"]) for r in reader]
    except OSError as exc:
        raise DataError(f"{path}: cannot read pairs file ({exc.strerror or exc})") from None
    pairs: list[tuple[Path, Path]] = []
    for i, (p, t) in enumerate(rows, start=2):
        if not p or not t:
            raise DataError(f"{path}: line {i} lacks a pred or truth path")
        pred, truth = (
            x if x.is_absolute() else path.parent / x for x in (Path(p.strip()), Path(t.strip()))
        )
        pairs.append((pred, truth))
    return pairs


def write_json(report: EvaluationReport, path: str | Path) -> None:
    """The report as JSON, with a ``"geoseg"`` provenance member; verified on disk."""
    data = {"geoseg": report_header("report"), **report.to_json()}
    write_text_output(
        path,
        json.dumps(data, indent=2) + "\n",
        kind="report",
        verify=lambda tmp: json.loads(tmp.read_text(encoding="utf-8")),
    )


def write_csv(report: EvaluationReport, path: str | Path) -> None:
    rows = report.rows()
    columns = [
        "name",
        "kind",
        "pred",
        "truth",
        *PIXEL_COLUMNS,
        "tp",
        "fp",
        "fn",
        "tn",
        *APLS_COLUMNS,
    ]
    extra = [k for r in rows for k in r if k not in columns]
    columns += list(dict.fromkeys(extra))
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text_output(path, buffer.getvalue(), kind="report")


def _cell(row: dict, column: str, percent: bool) -> str:
    if column not in row:
        return ""
    value = row[column]
    if value is None:
        return "–"  # undefined (see the notes)
    return f"{100 * value:.2f}" if percent else f"{value:.4f}"


def format_table(report: EvaluationReport, percent: bool = True) -> str:
    """Plain-text tables (pixel pairs, APLS pairs) with the summary rows last."""
    out = []
    for kind, cols in (
        ("pixel", ("iou", "precision", "recall", "f1", "relaxed_f1")),
        ("apls", ("apls", "apls_gt_to_prop", "apls_prop_to_gt", "junction_f1")),
    ):
        rows = [r for r in report.rows() if r["kind"] == kind]
        if not rows:
            continue
        names = [str(r["name"]) for r in rows]
        width = max(len(n) for n in names + ["name"])
        head = f"{'name':<{width}}  " + "  ".join(f"{c:>15}" for c in cols)
        lines = [head, "-" * len(head)]
        for n, r in zip(names, rows):
            cells = [_cell(r, c, percent) for c in cols]
            lines.append(f"{n:<{width}}  " + "  ".join(f"{c:>15}" for c in cells))
        out.append("\n".join(lines))
    notes = report.notes()
    if notes:
        out.append("\n".join(f"note: {n}" for n in notes))
    return "\n\n".join(out)
