"""`run_batch`: map an area from many scenes, resumably, on one or many GPUs/machines."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoseg.batch.area import AreaOutputs, build_area
from geoseg.batch.inflight import check_in_flight, default_in_flight, shared_model
from geoseg.batch.manifest import DONE, FAILED, Manifest, fingerprint
from geoseg.batch.options import RunOptions, record_params
from geoseg.batch.runner import (
    Predictor,
    Vectorizer,
    predict_with,
    run_share,
    share,
    vectorize_with,
)
from geoseg.batch.scenes import ScenePlan, plan_scenes
from geoseg.checkpoint import Checkpoint
from geoseg.distributed import DistContext, distributed
from geoseg.errors import GeoSegError, OutputError
from geoseg.io.files import ensure_writable_dir
from geoseg.io.lock import FolderLock
from geoseg.predict import LoadedModel, checkpoint_of, model_source
from geoseg.radiometry import area_rule, check_mode, once_per_run

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """What a batch did.  Area outputs are set on rank 0 only (it merges)."""

    out_dir: Path
    crs: str
    rank: int = 0
    world_size: int = 1
    # Scenes run / skipped as finished earlier and megapixels run in this call: by this
    # rank, and on rank 0 (after the merge) by all ranks together.
    processed: int = 0
    already_done: int = 0
    seconds: float = 0.0
    megapixels: float = 0.0
    area: AreaOutputs | None = None
    scenes: list[dict[str, Any]] = field(default_factory=list)  # summary rows (rank 0)

    @property
    def megapixels_per_s(self) -> float:
        return self.megapixels / self.seconds if self.seconds > 0 else 0.0

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Summary rows of scenes that are not done (failed or never finished)."""
        return [r for r in self.scenes if r["status"] not in (DONE, "skipped")]

    @property
    def n_done(self) -> int:
        return sum(r["status"] == DONE for r in self.scenes)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def roads_path(self) -> Path | None:
        return self.area.roads_path if self.area else None


def model_identity(model: Any) -> Any:
    """What identifies the model in the manifest (a changed model redoes the scenes)."""
    if model is None:
        return None
    if isinstance(model, (str, Path)):
        return {"checkpoint": str(Path(model).resolve()), **(fingerprint(model) or {})}
    ckpt = checkpoint_of(model) if isinstance(model, (Checkpoint, LoadedModel)) else None
    if ckpt is not None:
        ident = {k: getattr(ckpt, k) for k in ("arch", "backbone", "created", "epoch")}
        return {"checkpoint": str(Path(ckpt.path).resolve()) if ckpt.path else None, **ident}
    return {"module": type(model).__name__}


def _plan_on_rank0(
    ctx: DistContext, scenes: Any, out_dir: Path, aoi: Any, crs: Any, stack: contextlib.ExitStack
) -> ScenePlan:
    """Rank 0 plans (reads headers, AOI) and takes OUTDIR's lock for the whole job (held
    until `stack` closes); every rank gets the same plan or error."""
    plan, error = None, None
    if ctx.rank == 0:
        try:
            plan = plan_scenes(scenes, aoi=aoi, crs=crs)
            ensure_writable_dir(out_dir)
            stack.enter_context(FolderLock(out_dir, "batch"))
        except GeoSegError as exc:
            error = exc
    plan, error = ctx.broadcast((plan, error))
    if error is not None:
        raise error
    return plan


def run_batch(
    scenes: Iterable[str | Path],
    out_dir: str | Path,
    model: Any = None,
    *,
    aoi: Any = None,
    crs: Any = None,
    force: bool = False,
    tta: str | None = None,
    device: str = "auto",
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int = 4,
    threshold: float | None = None,
    snap_m: float | None = None,
    predict_options: dict[str, Any] | None = None,
    vectorize_options: dict[str, Any] | None = None,
    progress: bool = True,
    radiometry: str = "auto",
    resample_to_training: bool = False,
    predictor: Predictor | None = None,
    vectorizer: Vectorizer | None = None,
    scenes_in_flight: int | None = None,
) -> BatchResult:
    """Map roads over many scenes into OUTDIR and merge them into one area layer.

    `scenes`: files, glob patterns or text files listing paths.  `model`: a
    :data:`geoseg.predict.ModelSource` (checkpoint path, Checkpoint, LoadedModel or
    nn.Module, see :func:`geoseg.predict.predict_scene`).
    `aoi`: vector file / GeoDataFrame / shapely geometry; scenes outside it are skipped
    and roads are clipped to it.  `crs`: output CRS (default: the first scene's, or its
    UTM zone when geographic).  Finished scenes (see :mod:`geoseg.batch.manifest`) are
    skipped unless `force`.  Under torchrun each rank processes its share of scenes on
    its own device and rank 0 merges.  `tile`, `overlap`, `tta`, `threshold`: None is the
    checkpoint's, else the default (:mod:`geoseg.inference.settings`).  `predict_options` / `vectorize_options` are
    passed on to :func:`geoseg.predict.predict_scene` (bands, normalizer...) and
    :func:`geoseg.vectorize.vectorize_mask`; `predictor` / `vectorizer` replace those
    steps altogether (tests, custom models).  `radiometry` / `resample_to_training`: the
    imagery-domain rule of :mod:`geoseg.radiometry`, with statistics pooled over all
    scenes of the area (one rescaling for the whole area: no seams between scenes).
    `scenes_in_flight`: scenes of this rank's share mapped at once, sharing the model
    (:mod:`geoseg.batch.inflight`; default 2 on CUDA, 1 on the CPU).

    Failed scenes do not raise: they are in ``result.failed``.  Raises GeoSegError for
    unusable input as a whole (no readable scene, an AOI that intersects nothing).
    """
    out_dir = Path(out_dir)
    if model is None and predictor is None:
        raise GeoSegError("run_batch needs a model (checkpoint) or a predictor")
    check_mode(radiometry)
    check_in_flight(scenes_in_flight)
    t0 = time.perf_counter()
    with distributed(device) as ctx, contextlib.ExitStack() as lock:
        plan = _plan_on_rank0(ctx, scenes, out_dir, aoi, crs, lock)
        manifest = Manifest(out_dir)
        params = record_params(
            model_identity(model),
            tta=tta,
            tile=tile,
            overlap=overlap,
            threshold=threshold,
            predict_options=predict_options,
            radiometry=radiometry,
            resample_to_training=resample_to_training,
            vectorize_options=vectorize_options,
        )
        source = functools.cache(lambda: model_source(model))  # a path is loaded once
        options = RunOptions(params, lambda: None if model is None else checkpoint_of(source()))
        if ctx.rank == 0:
            for name, path, reason in plan.unreadable:
                rec = manifest.start(name, path, params, rank=0)
                manifest.fail(rec, reason)
        mine = share(plan.scenes, ctx.rank, ctx.world_size)
        todo = []
        for s in mine:
            if not force and manifest.is_finished(s.name, s.path, params, options.same):
                manifest.restate(s.name, params)  # each rank writes only its own scenes
            else:
                todo.append(s)
        log.info(
            "%d scenes in the area; %s%d to process, %d finished earlier",
            len(plan.scenes),
            f"rank {ctx.rank}: " if ctx.active else "",
            len(todo),
            len(mine) - len(todo),
        )
        in_flight = scenes_in_flight or default_in_flight(str(ctx.device))
        error = None
        try:
            if todo:
                if predictor is None:
                    # built once, shared by every scene (and every scene in flight)
                    loaded = shared_model(source(), str(ctx.device))
                    stats = area_rule(
                        [s.path for s in plan.scenes],
                        checkpoint_of(loaded),
                        radiometry,
                        (predict_options or {}).get("bands"),
                    )
                    predictor = predict_with(
                        loaded,
                        tile=tile,
                        overlap=overlap,
                        batch_size=batch_size,
                        tta=tta,
                        device=str(ctx.device),
                        threshold=threshold,
                        progress=False if ctx.active or not progress or in_flight > 1 else None,
                        radiometry=radiometry,
                        resample_to_training=resample_to_training,
                        radiometry_stats=stats,
                        **(predict_options or {}),
                    )
                if vectorizer is None:
                    vectorizer = vectorize_with(**(vectorize_options or {}))
                with once_per_run():  # what an older checkpoint lacks: said once, not per scene
                    run_share(
                        todo,
                        out_dir,
                        manifest,
                        params,
                        ctx,
                        predictor,
                        vectorizer,
                        progress,
                        in_flight,
                    )
        except GeoSegError as exc:  # whole-batch problems (bad checkpoint...), on any rank
            error = exc
        seconds = time.perf_counter() - t0
        result = BatchResult(
            out_dir=out_dir,
            crs=plan.crs,
            rank=ctx.rank,
            world_size=ctx.world_size,
            processed=len(todo),
            already_done=len(mine) - len(todo),
            seconds=seconds,
            megapixels=sum(s.megapixels for s in todo),
        )
        # Barrier: every rank reports what it did; rank 0 then merges.
        reports = ctx.all_gather(
            {
                "rank": ctx.rank,
                "error": error,
                "done": [s.name for s in todo],
                "already": result.already_done,
                "megapixels": result.megapixels,
            }
        )
        errors = [r["error"] for r in reports if r["error"] is not None]
        if errors:
            raise errors[0]
        if ctx.rank != 0:
            return result
        _check_shared(manifest, reports)
        result.processed = sum(len(r["done"]) for r in reports)  # the whole job's
        result.already_done = sum(r["already"] for r in reports)
        result.megapixels = sum(r["megapixels"] for r in reports)
        result.area = build_area(plan, out_dir, manifest, snap_m=snap_m)
        result.scenes = result.area.rows
        result.seconds = time.perf_counter() - t0
    return result


def _check_shared(manifest: Manifest, reports: list[dict[str, Any]]) -> None:
    """Rank 0 must see every other rank's records: OUTDIR has to be a shared folder."""
    records = manifest.records()
    for rep in reports:
        missing = [n for n in rep["done"] if records.get(n, {}).get("status") not in (DONE, FAILED)]
        if missing and rep["rank"] != 0:
            raise OutputError(
                f"{manifest.out_dir}: rank {rep['rank']}'s results ({missing[0]}...) are not "
                "visible to rank 0; OUTDIR must be a folder shared by all nodes"
            )
