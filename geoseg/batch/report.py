"""Batch reports: ``summary.csv`` (one row per scene) and an overview PNG of the area."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geoseg.io.files import write_text_output
from geoseg.viz import save_figure

log = logging.getLogger(__name__)

SUMMARY_FIELDS = ("scene", "status", "area_km2", "road_km", "seconds", "megapixels",
                  "rank", "attempts", "error", "source")
STATUS_COLOURS = {"done": "#4c9f70", "failed": "#d1495b", "skipped": "#bbbbbb",
                  "running": "#edae49"}


def write_summary(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """One CSV row per scene with the :data:`SUMMARY_FIELDS` columns."""
    path = Path(path)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in SUMMARY_FIELDS})
    return write_text_output(path, buffer.getvalue(), kind="report")


def write_overview(path: str | Path, footprints: Sequence[Any], statuses: Sequence[str],
                   names: Sequence[str], roads: Any = None, aoi: Any = None,
                   cores: Sequence[Any] = (), title: str = "", max_px: int = 1600) -> Path:
    """A PNG map: scene footprints coloured by status, the core regions' seams (grey,
    dotted: where one scene's roads hand over to the next), the AOI outline (blue,
    dashed) and the roads in black.

    Geometries are in one CRS (the work CRS); `roads` is a GeoDataFrame or None.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import shapely

    path = Path(path)
    geoms = [g for g in footprints if g is not None and not g.is_empty]
    if aoi is not None:
        geoms.append(aoi)
    minx, miny, maxx, maxy = shapely.union_all(geoms).bounds if geoms else (0, 0, 1, 1)
    aspect = max(maxy - miny, 1e-9) / max(maxx - minx, 1e-9)
    dpi = 100
    w_in = max_px / dpi if aspect <= 1 else max_px / dpi / aspect
    fig, ax = plt.subplots(figsize=(w_in, max(w_in * aspect, 2.0)), dpi=dpi)
    try:
        for fp, status, name in zip(footprints, statuses, names):
            if fp is None or fp.is_empty:
                continue
            colour = STATUS_COLOURS.get(status, "#888888")
            for poly in shapely.get_parts(fp):
                xs, ys = poly.exterior.xy
                ax.fill(xs, ys, facecolor=colour, alpha=0.18, edgecolor=colour, linewidth=1.2)
            c = fp.representative_point()
            ax.annotate(name, (c.x, c.y), fontsize=7, color="#333333", ha="center")
        for core in cores:
            for poly in shapely.get_parts(core):
                xs, ys = poly.exterior.xy
                ax.plot(xs, ys, color="#555555", linewidth=0.6, linestyle=":")
        if aoi is not None:
            for poly in shapely.get_parts(aoi):
                xs, ys = poly.exterior.xy
                ax.plot(xs, ys, color="#1f5fbf", linewidth=1.5, linestyle="--")
        if roads is not None and len(roads):
            roads.plot(ax=ax, color="black", linewidth=0.8)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
        ax.ticklabel_format(useOffset=False, style="plain")
        ax.tick_params(labelsize=6)
        save_figure(fig, path, "overview", bbox_inches="tight")
    finally:
        plt.close(fig)
    return path
