"""Batch reports: ``summary.csv`` (one row per scene) and an overview PNG of the area."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shapely

from geoseg.batch.layout import group_boxes, union_box
from geoseg.io.files import write_text_output
from geoseg.viz import save_figure

log = logging.getLogger(__name__)

SUMMARY_FIELDS = (
    "scene",
    "status",
    "area_km2",
    "road_km",
    "seconds",
    "megapixels",
    "rank",
    "attempts",
    "error",
    "source",
    "mosaic",
)
STATUS_COLOURS = {
    "done": "#4c9f70",
    "failed": "#d1495b",
    "skipped": "#bbbbbb",
    "running": "#edae49",
}


def write_summary(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """One CSV row per scene with the :data:`SUMMARY_FIELDS` columns."""
    path = Path(path)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in SUMMARY_FIELDS})
    return write_text_output(path, buffer.getvalue(), kind="report")


MAX_PANELS = 11  # groups drawn as panels of their own beside the locator map


def write_overview(
    path: str | Path,
    footprints: Sequence[Any],
    statuses: Sequence[str],
    names: Sequence[str],
    roads: Any = None,
    aoi: Any = None,
    cores: Sequence[Any] = (),
    title: str = "",
    max_px: int = 1600,
) -> Path:
    """A PNG map: scene footprints coloured by status, the core regions' seams (grey,
    dotted: where one scene's roads hand over to the next), the AOI outline (blue,
    dashed) and the roads in black.

    When the scenes lie in groups far apart (:mod:`geoseg.batch.layout`), one map of
    everything would be a thin strip of unreadable specks; the PNG then holds a locator
    map of the whole area (groups boxed and numbered) and one panel per group at its
    own scale (the :data:`MAX_PANELS` largest groups).

    Geometries are in one CRS (the work CRS); `roads` is a GeoDataFrame or None.
    """
    import matplotlib  # lazy: only for figures

    matplotlib.use("Agg", force=False)
    import matplotlib.patches  # lazy: only for figures
    import matplotlib.pyplot as plt  # lazy: only for figures

    path = Path(path)
    shown = [i for i, g in enumerate(footprints) if g is not None and not g.is_empty]
    groups = [[shown[j] for j in grp] for grp in group_boxes([footprints[i].bounds for i in shown])]
    geoms = [footprints[i] for i in shown] + ([aoi] if aoi is not None else [])
    bounds = shapely.union_all(geoms).bounds if geoms else (0, 0, 1, 1)
    layer = _Layers(footprints, statuses, names, roads, aoi, cores)
    dpi = 100
    # (matplotlib Axes, padded bounds, panel title or None)
    axes: list[tuple[Any, tuple[float, float, float, float], str | None]]
    if len(groups) <= 1:
        fig, ax = plt.subplots(figsize=_fig_size(bounds, max_px / dpi), dpi=dpi)
        axes = [(ax, _padded(bounds), None)]
    else:
        panels = sorted(groups, key=len, reverse=True)[:MAX_PANELS]
        panels.sort(key=groups.index)
        n = len(panels) + 1
        cols = min(n, 3)
        rows = -(-n // cols)
        side = max_px / dpi / cols
        fig, grid = plt.subplots(
            rows, cols, figsize=(side * cols, side * rows), dpi=dpi, squeeze=False
        )
        flat = list(grid.ravel())
        for extra in flat[n:]:
            extra.axis("off")
        axes = [(flat[0], _padded(bounds), "whole area")]
        for k, members in enumerate(panels):
            box = union_box([footprints[i].bounds for i in members])
            axes.append(
                (
                    flat[k + 1],
                    _padded(box),
                    f"group {groups.index(members) + 1}: "
                    + ", ".join(names[i] for i in members[:4])
                    + (f" +{len(members) - 4}" if len(members) > 4 else ""),
                )
            )
    try:
        for ax, box, label in axes:
            locator = label == "whole area"
            layer.draw(ax, box, labels=not locator)
            if locator:
                for k, members in enumerate(groups):
                    gb = union_box([footprints[i].bounds for i in members])
                    ax.add_patch(
                        matplotlib.patches.Rectangle(
                            (gb[0], gb[1]),
                            gb[2] - gb[0],
                            gb[3] - gb[1],
                            fill=False,
                            edgecolor="#d1495b",
                            linewidth=1.0,
                        )
                    )
                    ax.annotate(
                        str(k + 1),
                        (gb[2], gb[3]),
                        fontsize=8,
                        color="#d1495b",
                        ha="left",
                        va="bottom",
                        fontweight="bold",
                    )
            if label:
                ax.set_title(label, fontsize=8)
        if len(axes) > 1:
            fig.suptitle(title, fontsize=9)
        else:
            axes[0][0].set_title(title, fontsize=9)
        save_figure(fig, path, "overview", bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _fig_size(bounds, width_in: float) -> tuple[float, float]:
    minx, miny, maxx, maxy = bounds
    aspect = max(maxy - miny, 1e-9) / max(maxx - minx, 1e-9)
    w_in = width_in if aspect <= 1 else width_in / aspect
    return w_in, max(w_in * aspect, 2.0)


def _padded(box, frac: float = 0.05):
    minx, miny, maxx, maxy = box
    pad = frac * max(maxx - minx, maxy - miny, 1e-9)
    return (minx - pad, miny - pad, maxx + pad, maxy + pad)


class _Layers:
    """The overview's layers, drawn onto one axis limited to a box."""

    def __init__(self, footprints, statuses, names, roads, aoi, cores) -> None:
        self.footprints, self.statuses, self.names = footprints, statuses, names
        self.roads, self.aoi, self.cores = roads, aoi, cores

    def draw(self, ax, box, labels: bool = True) -> None:

        for fp, status, name in zip(self.footprints, self.statuses, self.names):
            if fp is None or fp.is_empty:
                continue
            colour = STATUS_COLOURS.get(status, "#888888")
            for poly in shapely.get_parts(fp):
                xs, ys = poly.exterior.xy
                ax.fill(xs, ys, facecolor=colour, alpha=0.18, edgecolor=colour, linewidth=1.2)
            c = fp.representative_point()
            if labels and box[0] <= c.x <= box[2] and box[1] <= c.y <= box[3]:
                ax.annotate(name, (c.x, c.y), fontsize=7, color="#333333", ha="center")
        for core in self.cores:
            for poly in shapely.get_parts(core):
                xs, ys = poly.exterior.xy
                ax.plot(xs, ys, color="#555555", linewidth=0.6, linestyle=":")
        if self.aoi is not None:
            for poly in shapely.get_parts(self.aoi):
                xs, ys = poly.exterior.xy
                ax.plot(xs, ys, color="#1f5fbf", linewidth=1.5, linestyle="--")
        if self.roads is not None and len(self.roads):
            self.roads.plot(ax=ax, color="black", linewidth=0.8)
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
        ax.set_aspect("equal", adjustable="box")
        ax.ticklabel_format(useOffset=False, style="plain")
        ax.tick_params(labelsize=6)
