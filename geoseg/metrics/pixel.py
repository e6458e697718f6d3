"""Pixel metrics for binary road masks: strict (confusion counts) and relaxed.

Strict metrics come from the confusion counts TP/FP/FN/TN of a predicted mask against
a true mask, nodata pixels excluded: IoU = TP/(TP+FP+FN), precision = TP/(TP+FP),
recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN), accuracy = (TP+TN)/valid pixels.

Empty cases follow scikit-learn with ``zero_division=1.0``: a metric whose denominator
is zero is 1.0.  So empty truth + empty prediction *over valid pixels* scores IoU =
precision = recall = F1 = 1.0 (perfect agreement, as the Jaccard index of two empty sets
is defined: a road-free tile predicted road-free must not drag a mean down); no valid
pixel at all is no score (:class:`ScoreAccumulator` and ``geoseg.evaluate`` refuse it); empty prediction on a tile with roads gives precision 1.0, recall 0, IoU = F1 = 0;
roads predicted on a road-free tile give precision 0, recall 1.0, IoU = F1 = 0.  F1 and
IoU are computed from the counts, never from precision/recall, exactly as sklearn does.

Relaxed precision/recall (Mnih & Hinton 2010): a predicted road pixel is correct when a
true road pixel lies within ``rho`` pixels (Euclidean, disk of radius rho inclusive), and a
true road pixel is found when a predicted one lies within ``rho``.  Same zero-division
convention.

Datasets: :class:`ScoreAccumulator` keeps one confusion matrix summed over all images
(DeepGlobe's "accumulated" IoU) *and* the per-image scores for their mean.

Large rasters: :func:`score_blockwise` scores a pair window by window through a reader
callback, reading a halo of ``rho`` pixels around each block for the relaxed metrics
(:func:`geoseg.io.windows.halo_blocks`),
so memory is O(block²) and the result equals the whole-array result exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from geoseg.errors import DataError
from geoseg.io.windows import halo_blocks
from geoseg.progress import tqdm

log = logging.getLogger(__name__)

DEFAULT_RHO = 3
DEFAULT_BLOCK = 2048


def _ratio(num: float, den: float) -> float:
    """num/den, or 1.0 when den is 0 (sklearn's zero_division=1.0)."""
    return float(num) / float(den) if den else 1.0


@dataclass(frozen=True)
class Confusion:
    """Confusion counts of a binary mask pair; add them to accumulate over images."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def iou(self) -> float:
        return _ratio(self.tp, self.tp + self.fp + self.fn)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def accuracy(self) -> float:
        return _ratio(self.tp + self.tn, self.total)


@dataclass(frozen=True)
class RelaxedCounts:
    """Counts behind relaxed precision/recall (Mnih & Hinton)."""

    pred_near: int = 0  # predicted road pixels within rho of a true road pixel
    pred_total: int = 0
    truth_near: int = 0  # true road pixels within rho of a predicted road pixel
    truth_total: int = 0

    def __add__(self, other: RelaxedCounts) -> RelaxedCounts:
        return RelaxedCounts(
            self.pred_near + other.pred_near,
            self.pred_total + other.pred_total,
            self.truth_near + other.truth_near,
            self.truth_total + other.truth_total,
        )

    @property
    def precision(self) -> float:
        return _ratio(self.pred_near, self.pred_total)

    @property
    def recall(self) -> float:
        return _ratio(self.truth_near, self.truth_total)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class PixelScores:
    """Strict and relaxed scores of one mask pair (or of a sum of pairs)."""

    confusion: Confusion = field(default_factory=Confusion)
    relaxed: RelaxedCounts = field(default_factory=RelaxedCounts)

    def __add__(self, other: PixelScores) -> PixelScores:
        return PixelScores(self.confusion + other.confusion, self.relaxed + other.relaxed)

    def metrics(self) -> dict[str, float]:
        """The ratios, keyed as in reports."""
        c, r = self.confusion, self.relaxed
        return {
            "iou": c.iou,
            "precision": c.precision,
            "recall": c.recall,
            "f1": c.f1,
            "accuracy": c.accuracy,
            "relaxed_precision": r.precision,
            "relaxed_recall": r.recall,
            "relaxed_f1": r.f1,
        }

    def to_dict(self) -> dict[str, float | int | None]:
        """Ratios plus the raw counts (so reports can be re-accumulated)."""
        return {**self.metrics(), **asdict(self.confusion)}


def _as_bool(mask: np.ndarray, name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"{name} must be a 2-D mask, got shape {mask.shape}")
    return mask if mask.dtype == bool else mask != 0


def _prepare(pred, truth, valid):
    pred, truth = _as_bool(pred, "pred"), _as_bool(truth, "truth")
    if pred.shape != truth.shape:
        raise ValueError(f"pred {pred.shape} and truth {truth.shape} differ in shape")
    if valid is None:
        return pred, truth, None
    valid = _as_bool(valid, "valid")
    if valid.shape != pred.shape:
        raise ValueError(f"valid {valid.shape} and pred {pred.shape} differ in shape")
    return pred & valid, truth & valid, valid


def confusion(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> Confusion:
    """Confusion counts of `pred` against `truth` (non-zero = road) over `valid` pixels."""
    pred, truth, valid = _prepare(pred, truth, valid)
    n = int(valid.sum()) if valid is not None else pred.size
    tp = int(np.count_nonzero(pred & truth))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(truth)) - tp
    return Confusion(tp, fp, fn, n - tp - fp - fn)


def near(mask: np.ndarray, rho: float) -> np.ndarray:
    """Pixels within Euclidean distance `rho` of a True pixel of `mask` (a disk dilation)."""
    if not mask.any():
        return np.zeros(mask.shape, bool)
    if rho <= 0:
        return mask.copy()
    return ndimage.distance_transform_edt(~mask) <= rho


def relaxed_counts(
    pred: np.ndarray,
    truth: np.ndarray,
    valid: np.ndarray | None = None,
    rho: float = DEFAULT_RHO,
    core: tuple[slice, slice] | None = None,
) -> RelaxedCounts:
    """Relaxed counts; only pixels inside `core` are counted (the rest is a halo)."""
    pred, truth, _ = _prepare(pred, truth, valid)
    core = core or (slice(None), slice(None))
    near_truth = near(truth, rho)[core]
    near_pred = near(pred, rho)[core]
    p, t = pred[core], truth[core]
    return RelaxedCounts(
        int(np.count_nonzero(p & near_truth)),
        int(np.count_nonzero(p)),
        int(np.count_nonzero(t & near_pred)),
        int(np.count_nonzero(t)),
    )


def score_masks(
    pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None, rho: float = DEFAULT_RHO
) -> PixelScores:
    """Strict and relaxed scores of two whole in-memory masks."""
    return PixelScores(confusion(pred, truth, valid), relaxed_counts(pred, truth, valid, rho))


BlockReader = Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray, np.ndarray | None]]


def score_blockwise(
    read: BlockReader,
    height: int,
    width: int,
    *,
    rho: float = DEFAULT_RHO,
    block: int = DEFAULT_BLOCK,
    progress: bool = False,
) -> PixelScores:
    """Score a pair too large for memory, one block (plus a `rho` halo) at a time.

    ``read(row, col, rows, cols)`` returns ``(pred, truth, valid)`` for that window
    (valid may be None); windows are always inside the grid.  Equal to
    :func:`score_masks` on the whole arrays.
    """

    halo = int(np.ceil(rho)) if rho > 0 else 0
    blocks = list(halo_blocks(height, width, block, halo))
    total = PixelScores()
    for b in tqdm(blocks, desc="scoring", unit="block", disable=not progress, leave=False):
        pred, truth, valid = read(b.halo.row_off, b.halo.col_off, b.halo.height, b.halo.width)
        core = b.core_in_halo
        v_core = None if valid is None else valid[core]
        strict = confusion(pred[core], truth[core], v_core)
        total += PixelScores(strict, relaxed_counts(pred, truth, valid, rho, core))
    return total


@dataclass
class ScoreAccumulator:
    """Scores over a dataset: one accumulated confusion matrix and per-image scores."""

    per_image: dict[str, PixelScores] = field(default_factory=dict)

    def add(self, name: str, scores: PixelScores) -> None:
        """Add one image's scores; an image without a valid pixel is refused (it has
        no score, and must not vanish from the summary unnoticed)."""

        if name in self.per_image:
            raise ValueError(f"{name}: already scored")
        if scores.confusion.total == 0:
            raise DataError(f"{name}: no valid pixel: no score to add")
        self.per_image[name] = scores

    @property
    def accumulated(self) -> PixelScores:
        """Sum of all images' counts (DeepGlobe's dataset IoU)."""
        total = PixelScores()
        for s in self.per_image.values():
            total += s
        return total

    def mean(self) -> dict[str, float]:
        """Mean over images of each per-image metric."""
        rows = [s.metrics() for s in self.per_image.values()]
        if not rows:
            return {}
        return {k: float(np.mean([row[k] for row in rows])) for k in rows[0]}
