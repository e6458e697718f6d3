"""The comparison as the paper's Table 2: Markdown, CSV and a bar chart, written atomically.

Columns: architecture, backbone, parameters, IoU (accumulated over all held-out images,
DeepGlobe's convention, and the mean of per-image IoUs), F1, APLS, inference MP/s — and,
apart from the measured numbers, the IoU Zhang et al. (2020) published for the same
architecture and backbone on DeepGlobe, which was *not* measured here.

The CSV holds fractions in [0, 1] (and the paper's IoU as a fraction, too); the Markdown
shows percentages like the paper.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

from geoseg.compare.records import REFERENCE_CENTRELINES, REFERENCE_VECTORIZED, Comparison
from geoseg.io.files import write_text_output
from geoseg.io.provenance import software
from geoseg.models.encoders import BACKBONE_ALIASES
from geoseg.viz import save_figure

# Zhang et al. 2020, "Comparison of Backbones for Semantic Segmentation Network",
# Table 2: IoU (%) on DeepGlobe road extraction, keyed by (arch, timm backbone).
PAPER_IOU: dict[tuple[str, str], float] = {
    ("unet", "vgg16"): 62.94,
    ("adlinknet", "resnet34"): 64.73,
    ("adlinknet", "resnet101"): 63.37,
    ("adlinknet", "legacy_xception"): 64.81,
}
PAPER = "Zhang et al. 2020, DeepGlobe"
COLUMNS = (
    "model",
    "architecture",
    "backbone",
    "params",
    "iou_accumulated",
    "iou_mean",
    "f1",
    "apls",
    "megapixels_per_s",
    "paper_iou_deepglobe",
    "precision",
    "recall",
    "f1_mean",
    "junction_f1",
    "trained",
    "checkpoint",
    "held_out_images",
    "apls_images",  # the held-out images APLS is averaged over (undefined on the others)
)
SCORES = ("iou_accumulated", "iou_mean", "f1", "apls")


def paper_iou(arch: str, backbone: str) -> Optional[float]:
    """The paper's DeepGlobe IoU (%) for this architecture and backbone, if it has one."""
    return PAPER_IOU.get((arch, BACKBONE_ALIASES.get(backbone, backbone)))


def rows(comparison: Comparison) -> list[dict]:
    """One row per compared model, in config order (scores as fractions)."""
    out = []
    for run in comparison.runs:
        paper = paper_iou(run.arch, run.backbone)
        out.append(
            {
                "model": run.name,
                "architecture": run.arch,
                "backbone": run.backbone,
                "params": run.params,
                **run.scores(),
                "megapixels_per_s": run.megapixels_per_s,
                "paper_iou_deepglobe": None if paper is None else paper / 100,
                "trained": run.trained,
                "checkpoint": str(run.checkpoint),
                "held_out_images": len(comparison.split.test),
                "apls_images": run.apls_images()[0],
            }
        )
    return out


def _pct(value: Optional[float]) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def _apls_mean_text(comparison: Comparison) -> str:
    """Over how many held-out images each model's APLS mean is, and where it is undefined."""
    held_out = len(comparison.split.test)
    counts = {run.name: run.apls_images() for run in comparison.runs}
    if all(n == held_out for n, _ in counts.values()):
        return f"mean over the {held_out} held-out image(s)."
    parts = []
    for name, (n, undefined) in counts.items():
        why = "; ".join(f"{image}: {reason}" for image, reason in undefined.items())
        parts.append(
            f"{name} over {n} of {held_out} held-out image(s)" + (f" ({why})" if why else "")
        )
    return "mean of the images where APLS is defined — " + ", ".join(parts) + "."


def markdown(comparison: Comparison) -> str:
    """The table with its notes (how the split, the APLS reference and speed were made)."""
    split = comparison.split
    head = (
        "| model | architecture | backbone | params (M) | IoU acc. (%) | IoU mean (%) | "
        "F1 (%) | APLS (%) | MP/s | paper IoU (%)¹ |"
    )
    lines = [head, "|" + "|".join(["---"] * 3 + ["---:"] * 7) + "|"]
    for r in rows(comparison):
        mps = r["megapixels_per_s"]
        cells = [
            r["model"],
            r["architecture"],
            r["backbone"],
            f"{r['params'] / 1e6:.2f}",
            *(_pct(r[k]) for k in SCORES),
            "–" if math.isnan(mps) else f"{mps:.3g}",
            _pct(r["paper_iou_deepglobe"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    names = ", ".join(s.name for s in split.test)
    ref = comparison.reference_kind
    ref_text = (
        "the data's road centrelines"
        if ref == REFERENCE_CENTRELINES
        else "the truth masks vectorized with the same settings as the predictions"
        if ref == REFERENCE_VECTORIZED
        else ref
    )
    notes = [
        f"¹ {PAPER} (Table 2), **not measured here**: another dataset and training "
        "budget; shown for reference only.",
        f"Data: `{split.root}` ({split.layout} layout), {len(split.train)} training and "
        f"{len(split.test)} held-out image(s) ({split.rule}); held out: {names}.",
        "IoU acc.: one confusion matrix over all held-out pixels (DeepGlobe's convention); "
        "IoU mean: mean of per-image IoUs; F1 from the accumulated counts.",
        f"APLS: vectorized predictions against {ref_text}; {_apls_mean_text(comparison)}",
        "MP/s: held-out megapixels per second of `predict_scene` (read, forward passes with "
        "the config's TTA, stitching, writing) on "
        f"{comparison.device}"
        + (", after an untimed warm-up batch." if comparison.device.startswith("cuda") else "."),
    ]
    for run in comparison.runs:
        how = "trained here" if run.trained else "given checkpoint"
        notes.append(f"{run.name}: `{run.config_path}`, {how}: `{run.checkpoint}`.")
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def write_markdown(comparison: Comparison, path: Path) -> Path:
    text = f"<!-- {software('report')} -->\n# Road segmentation comparison\n\n" + markdown(
        comparison
    )
    return write_text_output(path, text, kind="report")


def write_csv(comparison: Comparison, path: Path) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for r in rows(comparison):
        writer.writerow(
            {
                k: "" if v is None or (isinstance(v, float) and math.isnan(v)) else v
                for k, v in r.items()
            }
        )
    return write_text_output(path, buffer.getvalue(), kind="report")


def write_chart(comparison: Comparison, path: Path) -> Path:
    """Grouped bars of the scores per model (the paper's IoU hatched), MP/s beside them."""
    table = rows(comparison)
    labels = [r["model"] for r in table]
    series = [
        ("IoU acc.", "iou_accumulated"),
        ("IoU mean", "iou_mean"),
        ("F1", "f1"),
        ("APLS", "apls"),
        (f"paper IoU ({PAPER})", "paper_iou_deepglobe"),
    ]
    x = np.arange(len(table))
    width = 0.8 / len(series)
    fig = Figure(figsize=(4 + 2.2 * len(table), 4.5))
    ax, ax_speed = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    for i, (title, key) in enumerate(series):
        values = [100 * (r[key] if r[key] is not None else float("nan")) for r in table]
        paper = key == "paper_iou_deepglobe"
        ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            np.nan_to_num(values),
            width,
            label=title,
            hatch="//" if paper else None,
            color="white" if paper else None,
            edgecolor="grey" if paper else None,
        )
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title("Held-out scores (hatched: published, not measured here)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax_speed.bar(x, [r["megapixels_per_s"] for r in table], color="tab:grey")
    ax_speed.set_xticks(x, labels, rotation=20, ha="right")
    ax_speed.set_ylabel("megapixels / s")
    ax_speed.set_title("Inference speed", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, "report", dpi=110)
    return path


def write_outputs(comparison: Comparison) -> dict[str, Path]:
    """table.md, table.csv and chart.png in the comparison's folder."""
    out = comparison.out_dir
    return {
        "markdown": write_markdown(comparison, out / "table.md"),
        "csv": write_csv(comparison, out / "table.csv"),
        "chart": write_chart(comparison, out / "chart.png"),
    }
