"""What a comparison records: one :class:`ModelRun` per compared model and the
:class:`Comparison` that holds them (written out by :mod:`geoseg.compare.table`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from geoseg.compare.split import DataSplit
from geoseg.config import RunConfig
from geoseg.evaluate import EvaluationReport

# what the predicted roads were scored against (APLS)
REFERENCE_CENTRELINES = "centrelines"  # the data's *_roads vector files
REFERENCE_VECTORIZED = "vectorized truth mask"


@dataclass
class ModelRun:
    """One compared model: where it came from, its size, scores and speed."""

    name: str
    config_path: Path
    config: RunConfig
    checkpoint: Path
    trained: bool
    params: int = 0
    report: Optional[EvaluationReport] = None
    megapixels: float = 0.0
    seconds: float = 0.0

    @property
    def arch(self) -> str:
        return self.config.model.arch

    @property
    def backbone(self) -> str:
        return self.config.model.backbone

    @property
    def megapixels_per_s(self) -> float:
        return self.megapixels / self.seconds if self.seconds > 0 else float("nan")

    def scores(self) -> dict[str, float]:
        """Accumulated IoU/F1/precision/recall, mean per-image IoU/F1, mean APLS."""
        summary = self.report.summary() if self.report else {}
        acc = summary.get("pixel", {}).get("accumulated", {})
        mean = summary.get("pixel", {}).get("mean", {})
        apls = summary.get("apls", {}).get("mean", {})
        nan = float("nan")
        return {
            "iou_accumulated": acc.get("iou", nan),
            "iou_mean": mean.get("iou", nan),
            "f1": acc.get("f1", nan),
            "f1_mean": mean.get("f1", nan),
            "precision": acc.get("precision", nan),
            "recall": acc.get("recall", nan),
            "apls": apls.get("apls", nan),
            "junction_f1": apls.get("junction_f1", nan),
        }

    def apls_images(self) -> tuple[int, dict[str, str]]:
        """How many held-out images the APLS mean is over, and why it is undefined for
        the others (two empty road networks)."""
        summary = (self.report.summary() if self.report else {}).get("apls", {})
        return summary.get("scored", 0), summary.get("undefined", {})


@dataclass
class Comparison:
    """Everything a comparison produced; :mod:`geoseg.compare.table` writes it out."""

    split: DataSplit
    runs: list[ModelRun]
    references: dict[str, str]  # held-out image → REFERENCE_* kind
    out_dir: Path
    device: str = "cpu"  # where inference was timed, e.g. "cuda:0 (NVIDIA H100 80GB HBM3)"
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def reference_kind(self) -> str:
        kinds = sorted(set(self.references.values()))
        return (
            kinds[0]
            if len(kinds) == 1
            else "mixed: " + ", ".join(f"{n} ({k})" for n, k in self.references.items())
        )
