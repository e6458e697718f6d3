"""Per-scene pipeline (predict -> vectorize -> roads.gpkg) and its distribution over ranks.

Distribution uses torch.distributed as launched by ``torchrun``: every rank reads
RANK / WORLD_SIZE / LOCAL_RANK, takes a fixed share of the scenes (balanced by
megapixels, the same on every rank, so each scene is processed by exactly one rank)
and its own GPU (``cuda:LOCAL_RANK``).  The process group is only a control plane
(plan broadcast, final barrier); scene data moves through the shared OUTDIR.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoseg.batch.manifest import Manifest
from geoseg.batch.scenes import SceneInfo
from geoseg.errors import GeoSegError

log = logging.getLogger(__name__)

# predictor(scene, scene_dir) -> (mask_path, prob_path or None)
Predictor = Callable[[SceneInfo, Path], tuple[Path, Path | None]]
# vectorizer(mask_path, prob_path or None) -> GeoDataFrame of road centrelines
Vectorizer = Callable[[Path, Path | None], Any]

DIST_TIMEOUT = _dt.timedelta(hours=72)  # ranks may wait long for the slowest one


@dataclass
class DistContext:
    """This process's place in a torchrun job (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we initialised the process group, so we destroy it

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank."""
        if not self.active:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order (also a barrier)."""
        if not self.active:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out


def env_ranks() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment, else (0, 1, 0)."""

    def get(key: str, default: int) -> int:
        try:
            return int(os.environ.get(key, default))
        except ValueError:
            raise GeoSegError(f"environment variable {key}={os.environ[key]!r} is not a number")

    return get("RANK", 0), get("WORLD_SIZE", 1), get("LOCAL_RANK", 0)


def rank_device(device: str, ctx: DistContext) -> str:
    """One GPU per rank: 'auto'/'cuda' become cuda:LOCAL_RANK when CUDA is present."""
    import torch

    if device in (None, "", "auto"):
        return f"cuda:{ctx.local_rank}" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and ctx.active:
        return f"cuda:{ctx.local_rank}"
    return device


@contextlib.contextmanager
def distributed(device: str = "auto") -> Iterator[DistContext]:
    """Join the torchrun process group (gloo on CPU, nccl on GPU) for the block.

    Without torchrun (WORLD_SIZE unset or 1) this is a single-process context.  A group
    already initialised by the caller is reused and left alone.
    """
    rank, world, local = env_ranks()
    ctx = DistContext(rank, world, local)
    if world <= 1:
        yield ctx
        return
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        on_gpu = rank_device(device, ctx).startswith("cuda")
        if on_gpu:
            torch.cuda.set_device(ctx.local_rank)
        dist.init_process_group(backend="nccl" if on_gpu else "gloo", timeout=DIST_TIMEOUT)
        ctx.owns_group = True
    ctx.rank, ctx.world_size = dist.get_rank(), dist.get_world_size()
    try:
        yield ctx
    finally:
        if ctx.owns_group:
            dist.destroy_process_group()


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
    """The default predictor: :func:`geoseg.predict.predict_scene` with `model`."""
    from geoseg.predict import predict_scene

    def run(scene: SceneInfo, scene_dir: Path) -> tuple[Path, Path | None]:
        res = predict_scene(scene.path, model, scene_dir, **options)
        return Path(res.mask_path), (Path(res.prob_path) if res.prob_path else None)

    return run


def vectorize_with(**options: Any) -> Vectorizer:
    """The default vectorizer: :func:`geoseg.vectorize.vectorize_mask` of the mask
    (its own progress bar off: the batch shows one)."""
    from geoseg.vectorize import vectorize_mask

    options = {"progress": False, **options}

    def run(mask: Path, prob: Path | None) -> Any:
        return vectorize_mask(mask, prob=prob, **options)

    return run


def road_km(gdf: Any) -> float:
    """Total line length in km from the ``length_m`` column (or the geometry)."""
    if gdf is None or len(gdf) == 0:
        return 0.0
    if "length_m" in gdf:
        return float(gdf["length_m"].sum()) / 1000.0
    return float(gdf.geometry.length.sum()) / 1000.0


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
    from geoseg.io.vector import write_roads

    scene_dir = out_dir / "scenes" / scene.name
    record = manifest.start(scene.name, scene.path, params, rank)
    t0 = time.perf_counter()
    stats = {"megapixels": round(scene.megapixels, 4)}
    try:
        scene_dir.mkdir(parents=True, exist_ok=True)
        remove_partials(scene_dir)
        mask, prob = predictor(scene, scene_dir)
        gdf = vectorizer(mask, prob)
        roads = write_roads(gdf, scene_dir / "roads.gpkg", style=False)
        outputs = {"mask": Path(mask), "roads": Path(roads)}
        if prob is not None:
            outputs["prob"] = Path(prob)
        seconds = time.perf_counter() - t0
        return manifest.finish(
            record,
            outputs,
            seconds=round(seconds, 3),
            n_roads=int(len(gdf)),
            scene_road_km=round(road_km(gdf), 4),
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
    from geoseg.batch.inflight import map_concurrently
    from geoseg.progress import tqdm

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
