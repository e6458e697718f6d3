"""Stitched probability rows -> the output rasters, converted and written in parallel.

:class:`OutputSink` takes full-width rows of probabilities from the stitcher and hands them
to a conversion thread (clip, nodata to 0, threshold into the mask, quantise to uint8
unless float output) which feeds one writer thread per output raster; each writer's
GDAL compresses the blocks of a row band on several cores (NUM_THREADS, set in
:func:`geoseg.io.raster.output_profile`).  Every stage keeps call order and a bounded
queue, so memory stays O(rows × width) and the files are the same whatever the timing.
Only the outputs asked for are produced (``prob``, ``mask``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geoseg.errors import ConfigError
from geoseg.inference.profile import StageTimes
from geoseg.inference.writer import BackgroundSink
from geoseg.io.raster import RowWriter

OUTPUTS = ("prob", "mask")


def parse_outputs(outputs) -> tuple[str, ...]:
    """``"prob,mask"``, ``"mask"`` or a sequence of those names -> a tuple in
    :data:`OUTPUTS` order; a ConfigError for an unknown or empty choice."""
    names = outputs.replace(" ", "").split(",") if isinstance(outputs, str) else list(outputs)
    names = [n for n in names if n]
    bad = [n for n in names if n not in OUTPUTS]
    if bad or not names:
        what = f"unknown output {bad[0]!r}" if bad else "no output chosen"
        raise ConfigError(f"{what} (choose from {', '.join(OUTPUTS)}, e.g. prob,mask)")
    return tuple(n for n in OUTPUTS if n in names)


def convert_rows(
    prob: np.ndarray, valid: np.ndarray, threshold: float, float_output: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities as written, mask rows uint8 0/1) from stitched float32 rows.

    Works in place on `prob` (a fresh (rows, width) array): temporaries would scale with
    the width.  Nodata pixels are 0 in both; road = probability ≥ threshold.
    """
    np.clip(prob, 0.0, 1.0, out=prob)
    prob[~valid] = 0.0
    road = (prob >= threshold).view(np.uint8)
    if not float_output:
        prob *= 255
        prob = np.rint(prob, out=prob).astype(np.uint8)
    return prob, road


class OutputSink:
    """``sink(prob rows, valid rows)``: convert and write rows to the open datasets.

    `prob_dst` / `mask_dst` may be None to skip that output.  Call :meth:`close` when
    the last rows are in: it waits for the threads, writes the last partial block row
    and re-raises any writer error.
    """

    def __init__(
        self,
        prob_dst,
        mask_dst,
        threshold: float,
        float_output: bool,
        masked: bool,
        times: StageTimes | None = None,
        depth: int = 2,
    ) -> None:
        self.threshold = threshold
        self.float_output = float_output
        self.times = times or StageTimes()
        self._rows = [RowWriter(d, masked) if d is not None else None for d in (prob_dst, mask_dst)]
        self._writers = [
            BackgroundSink(self._writer(w), depth) if w is not None else None for w in self._rows
        ]
        self._convert = BackgroundSink(self._convert_rows, depth)

    def _writer(self, rows: RowWriter):
        def write(values: np.ndarray, valid: np.ndarray) -> None:
            with self.times.stage("write"):
                rows.write(values, valid)

        return write

    def _convert_rows(self, prob: np.ndarray, valid: np.ndarray) -> None:
        with self.times.stage("convert"):
            arrays = convert_rows(prob, valid, self.threshold, self.float_output)
        for writer, values in zip(self._writers, arrays):
            if writer is not None:
                writer(values, valid)

    def __call__(self, prob: np.ndarray, valid: np.ndarray) -> None:
        self._convert(prob, valid)

    def close(self) -> None:
        errors = []
        for stage in (self._convert, *self._writers):
            if stage is None:
                continue
            try:
                stage.close()
            except BaseException as exc:  # close every thread, then raise the first error
                errors.append(exc)
        if errors:
            raise errors[0]
        for rows in self._rows:
            if rows is not None:
                with self.times.stage("write"):
                    rows.close()

    def abort(self) -> None:
        """Stop the threads after an error elsewhere, dropping what is queued."""
        for stage in (self._convert, *self._writers):
            if stage is not None:
                stage.__exit__(RuntimeError, None, None)


# `geoseg predict SCENE` without -o writes into this folder beside the scene: never
# beside it, where `<name>_mask.tif` is the name ground-truth masks use.
DEFAULT_OUTPUT_FOLDER = "predictions"


@dataclass(frozen=True)
class OutputPaths:
    """Where predicting one scene writes: None for an output not asked for."""

    prob: Path | None
    mask: Path | None
    preview: Path | None

    def claims(self) -> dict[Path, str]:
        """Path -> product kind (:mod:`geoseg.io.provenance`), for ``claim_outputs``."""
        kinds = ((self.prob, "probability"), (self.mask, "mask"), (self.preview, "preview"))
        return {path: kind for path, kind in kinds if path is not None}


def output_paths(
    scene: str | Path,
    out_dir: str | Path,
    outputs: str | tuple[str, ...] = ("prob", "mask"),
    prob_out: str | Path | None = None,
    mask_out: str | Path | None = None,
    preview: bool = False,
) -> OutputPaths:
    """The one naming rule of prediction outputs: ``<out_dir>/<name>_prob.tif``,
    ``<name>_mask.tif`` and ``<name>_preview.png`` (`name`: the scene's file stem), or
    `prob_out` / `mask_out` where given (GeoTIFF names, distinct; that no output is an
    input is the rule of :mod:`geoseg.io.files`)."""
    name, out_dir = Path(scene).stem, Path(out_dir)
    wanted = parse_outputs(outputs)
    prob_path = Path(prob_out) if prob_out is not None else out_dir / f"{name}_prob.tif"
    mask_path = Path(mask_out) if mask_out is not None else out_dir / f"{name}_mask.tif"
    for path in (prob_path, mask_path):
        if path.suffix.lower() not in (".tif", ".tiff"):
            raise ConfigError(f"{path}: outputs are GeoTIFFs; give a .tif name")
    if prob_path.resolve() == mask_path.resolve():
        raise ConfigError(f"{prob_path}: the probability and mask outputs need different names")
    return OutputPaths(
        prob_path if "prob" in wanted else None,
        mask_path if "mask" in wanted else None,
        out_dir / f"{name}_preview.png" if preview else None,
    )
