"""Area outputs of a batch, built by rank 0 from the finished scenes' files.

``roads.gpkg`` (merged, AOI-clipped, in the output CRS), ``masks.vrt`` (mosaic),
``summary.csv`` and ``overview.png`` in OUTDIR.  Everything is rebuilt from the scene
outputs on disk, so the result depends only on which scenes are done, not on the order
or the run in which they were processed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoseg.batch.manifest import DONE, FAILED, SKIPPED, Manifest
from geoseg.batch.merge import core_regions, merge_lines
from geoseg.batch.mosaic import build_mosaics
from geoseg.batch.report import write_overview, write_summary
from geoseg.batch.scenes import ScenePlan, parse_crs
from geoseg.io.files import output_set
from geoseg.io.vector import read_roads, road_length, write_roads

log = logging.getLogger(__name__)


@dataclass
class AreaOutputs:
    roads_path: Path
    mosaic_path: Path | None  # the first of mosaic_paths
    summary_path: Path
    overview_path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    road_km: float = 0.0
    n_lines: int = 0
    mosaic_paths: list[Path] = field(default_factory=list)  # one VRT per group of nearby scenes


def default_snap(plan: ScenePlan) -> float:
    """Seam snapping distance: 8 pixels of the coarsest scene, at least 3 m."""
    coarsest = max((max(s.res) for s in plan.scenes), default=1.0)
    return max(8.0 * coarsest, 3.0)


def build_area(
    plan: ScenePlan, out_dir: Path, manifest: Manifest, snap_m: float | None = None
) -> AreaOutputs:
    """Merge roads, mosaic masks and write the summary and overview for `plan`; the four
    area outputs appear together (or, on any failure, the previous ones stay)."""
    with output_set():
        return _build_area(plan, out_dir, manifest, snap_m)


def _build_area(
    plan: ScenePlan, out_dir: Path, manifest: Manifest, snap_m: float | None
) -> AreaOutputs:

    records = manifest.records()
    done = [s for s in plan.scenes if (records.get(s.name) or {}).get("status") == DONE]
    lines = [
        read_roads(manifest.output_paths(records[s.name])["roads"], layer="roads") for s in done
    ]
    lines = [g.to_crs(plan.work_crs) if g.crs is not None and len(g) else g for g in lines]
    cores = core_regions([s.footprint for s in done]) if done else []
    merged, km = merge_lines(
        lines,
        [s.footprint for s in done],
        [s.name for s in done],
        work_crs=plan.work_crs,
        aoi=plan.aoi,
        cores=cores,
        snap_m=snap_m if snap_m is not None else default_snap(plan),
    )
    km_by_name = dict(zip((s.name for s in done), km))
    out_crs = parse_crs(plan.crs)
    roads_path = write_roads(
        merged.to_crs(out_crs.to_wkt()) if plan.crs != plan.work_crs else merged,
        out_dir / "roads.gpkg",
        style=True,
    )
    mosaics = build_mosaics(
        [manifest.output_paths(records[s.name])["mask"] for s in done], out_crs, out_dir
    )
    mosaic_of = {done[i].name: path.name for path, members in mosaics for i in members}
    mosaic = mosaics[0][0] if mosaics else None

    rows, fps, statuses, names = [], [], [], []
    for s in plan.scenes:
        rec = records.get(s.name) or {}
        status = rec.get("status", "not run")
        rows.append(
            {
                "scene": s.name,
                "status": status,
                "area_km2": round(s.footprint.area / 1e6, 6),
                "road_km": round(km_by_name.get(s.name, 0.0), 4),
                "seconds": rec.get("seconds"),
                "megapixels": round(s.megapixels, 4),
                "rank": rec.get("rank"),
                "attempts": rec.get("attempts"),
                "error": rec.get("error"),
                "source": s.path,
                "mosaic": mosaic_of.get(s.name),
            }
        )
        fps.append(s.footprint)
        statuses.append(status)
        names.append(s.name)
    for s in plan.outside:
        rows.append(
            {
                "scene": s.name,
                "status": SKIPPED,
                "area_km2": round(s.footprint.area / 1e6, 6),
                "road_km": 0.0,
                "megapixels": round(s.megapixels, 4),
                "error": "outside the AOI",
                "source": s.path,
            }
        )
        fps.append(s.footprint)
        statuses.append(SKIPPED)
        names.append(s.name)
    for name, path, reason in plan.unreadable:
        rows.append(
            {
                "scene": name,
                "status": FAILED,
                "error": reason,
                "source": path,
                "attempts": (records.get(name) or {}).get("attempts"),
            }
        )
    summary = write_summary(rows, out_dir / "summary.csv")
    n_failed = sum(r["status"] != DONE and r["status"] != SKIPPED for r in rows)
    total_km = road_length(merged).km or 0.0  # batch scenes all have a CRS
    overview = write_overview(
        out_dir / "overview.png",
        fps,
        statuses,
        names,
        roads=merged,
        aoi=plan.aoi,
        cores=cores,
        title=f"{len(done)} scenes mapped, {n_failed} failed, {total_km:.2f} km of roads "
        f"({plan.work_crs})",
    )
    return AreaOutputs(
        roads_path=Path(roads_path),
        mosaic_path=mosaic,
        summary_path=summary,
        overview_path=overview,
        rows=rows,
        road_km=total_km,
        n_lines=len(merged),
        mosaic_paths=[p for p, _ in mosaics],
    )
