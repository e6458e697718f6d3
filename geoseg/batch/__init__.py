"""Batch area mapping: many scenes (or an AOI) -> one road layer, resumable, distributed.

Modules: ``scenes`` (inputs, footprints, AOI), ``manifest`` (per-scene state),
``runner`` (per-scene pipeline, torchrun ranks), ``merge`` (core regions, seam joins),
``mosaic`` (VRT of the masks), ``report`` (summary.csv, overview.png), ``area``
(rank 0's merge step) and ``api`` (:func:`run_batch`).
"""

from geoseg.batch.api import BatchResult, run_batch

__all__ = ["BatchResult", "run_batch"]
