"""Per-scene pipeline (predict -> vectorize -> roads.gpkg) and its distribution over ranks.

Distribution uses torch.distributed as launched by ``torchrun``
(:class:`geoseg.distributed.DistContext`): every rank takes a fixed share of the scenes (balanced by
megapixels, the same on every rank, so each scene is processed by exactly one rank)
and its own GPU (``cuda:LOCAL_RANK``).  The process group is only a control plane
(plan broadcast, final barrier); scene data moves through the shared OUTDIR.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geoseg.batch.inflight import map_concurrently
from geoseg.batch.manifest import Manifest
from geoseg.batch.scenes import SceneInfo
from geoseg.distributed import DistContext
from geoseg.errors import GeoSegError
from geoseg.pipeline import Vectorizer, map_scene, predict_step, road_length, vectorize_step
from geoseg.predict import PredictResult
from geoseg.progress import tqdm

log = logging.getLogger(__name__)

# predictor(scene, scene_dir) -> (mask_path, prob_path or None), or predict_scene's result;
# Vectorizer (geoseg.pipeline): (mask_path, prob_path or None) -> GeoDataFrame of centrelines
Predictor = Callable[[SceneInfo, Path], PredictResult | tuple[Path, Path | None]]


def share(scenes: Sequence[SceneInfo], rank: int, world_size: int) -> list[SceneInfo]:
    """This rank's scenes: largest first to the least-loaded rank (deterministic LPT)."""
    if world_size <= 1:
        return list(scenes)
    load = [0.0] * world_size
    owner: dict[str, int] = {}
    for s in sorted(scenes, key=lambda s: (-s.megapixels, s.name)):
        r = min(range(world_size), key=lambda i: (load[i], i))
        owner[s.name] = r
        load[r] += s.megapixels
    return [s for s in scenes if owner[s.name] == rank]


def predict_with(model: Any, **options: Any) -> Predictor:
    """The default predictor: :func:`geoseg.pipeline.predict_step` (``predict_scene``)
    with `model`."""
    step = predict_step(model, **options)

    def run(scene: SceneInfo, scene_dir: Path) -> PredictResult:
        return step(scene.raster.path, scene_dir)

    return run


def vectorize_with(**options: Any) -> Vectorizer:
    """The default vectorizer: :func:`geoseg.pipeline.vectorize_step` (``vectorize_mask``)
    of the mask (its own progress bar off: the batch shows one)."""
    return vectorize_step(**{"progress": False, **options})


def one_line(exc: BaseException) -> str:
    """A one-line failure reason (GeoSegError messages are already one sentence)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, GeoSegError):
        return text
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def remove_partials(folder: Path) -> None:
    """Delete temporary files a killed run left (``.<name>.partial-<id>.<ext>``, see
    :func:`geoseg.io.files.temp_name`); only this scene's rank writes in its folder."""
    for p in folder.glob(".*.partial-*"):
        with contextlib.suppress(OSError):
            p.unlink()


def process_scene(
    scene: SceneInfo,
    out_dir: Path,
    manifest: Manifest,
    params: dict[str, Any],
    rank: int,
    predictor: Predictor,
    vectorizer: Vectorizer,
) -> dict[str, Any]:
    """Predict and vectorize one scene into OUTDIR/scenes/<name>/ and record the outcome.

    Any error is recorded as a failure (the batch goes on); an interrupt
    (KeyboardInterrupt, SystemExit) propagates and leaves the record 'running', which
    the next run redoes.  The record says 'done' only after every output is complete.
    """
    scene_dir = out_dir / "scenes" / scene.name
    record = manifest.start(scene.name, scene.path, params, rank)
    t0 = time.perf_counter()
    stats = {"megapixels": round(scene.megapixels, 4)}
    try:
        scene_dir.mkdir(parents=True, exist_ok=True)
        remove_partials(scene_dir)
        result = map_scene(
            scene.path,
            out_dir=scene_dir,
            roads=scene_dir / "roads.gpkg",
            style=False,
            predictor=lambda _path, folder: predictor(scene, folder),
            vectorizer=vectorizer,
        )
        outputs = {k: v for k, v in result.outputs.items() if k in ("mask", "roads", "prob")}
        length = result.road_length or road_length(None)
        seconds = time.perf_counter() - t0
        return manifest.finish(
            record,
            outputs,
            seconds=round(seconds, 3),
            n_roads=result.n_roads,
            **{f"scene_road_{length.unit}": round(length.value, 4)},
            **stats,
        )
    except Exception as exc:  # noqa: BLE001 - any failure of one scene is recorded, not fatal
        log.debug("scene %s failed", scene.name, exc_info=True)
        reason = one_line(exc)
        log.error("scene %s failed: %s", scene.name, reason)
        return manifest.fail(record, reason, seconds=round(time.perf_counter() - t0, 3), **stats)


def run_share(
    todo: Sequence[SceneInfo],
    out_dir: Path,
    manifest: Manifest,
    params: dict[str, Any],
    ctx: DistContext,
    predictor: Predictor,
    vectorizer: Vectorizer,
    progress: bool = True,
    in_flight: int = 1,
) -> list[dict[str, Any]]:
    """Process this rank's unfinished scenes with a progress bar (scenes, MP/s, ETA),
    up to `in_flight` at once (:mod:`geoseg.batch.inflight`); records in `todo` order."""
    total_mp = sum(s.megapixels for s in todo)
    label = f"rank {ctx.rank} " if ctx.active else ""
    records: dict[int, dict[str, Any]] = {}
    t0 = time.perf_counter()
    fmt = "{desc} |{bar}| {n:.2f}/{total:.2f} MP [{elapsed}<{remaining}{postfix}]"
    with tqdm(
        total=total_mp,
        disable=not progress,
        bar_format=fmt,
        leave=True,
        position=ctx.local_rank if ctx.active else None,
        desc=f"{label}scenes 0/{len(todo)}",
    ) as bar:

        def one(scene: SceneInfo) -> dict[str, Any]:
            return process_scene(scene, out_dir, manifest, params, ctx.rank, predictor, vectorizer)

        def finished(index: int, rec: dict[str, Any]) -> None:
            records[index] = rec
            scene, i = todo[index], len(records)
            failed = sum(r["status"] != "done" for r in records.values())
            done_mp = sum(todo[k].megapixels for k in records)
            bar.set_description_str(
                f"{label}scenes {i}/{len(todo)}" + (f" ({failed} failed)" if failed else ""),
                refresh=False,
            )
            bar.set_postfix_str(
                f"{done_mp / max(time.perf_counter() - t0, 1e-9):.2f} MP/s", refresh=False
            )
            bar.update(min(scene.megapixels, bar.total - bar.n))
            log.info(
                "%sscene %s %s in %.1f s (%d/%d)",
                label,
                scene.name,
                rec["status"],
                rec.get("seconds", 0.0),
                i,
                len(todo),
            )

        map_concurrently(todo, one, in_flight, finished)
    return [records[i] for i in sorted(records)]
