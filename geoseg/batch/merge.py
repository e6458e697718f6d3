"""Merge per-scene road lines into one layer without duplicates in scene overlaps.

Where scenes overlap, the same road is found twice.  Each scene therefore keeps only
the lines inside its *core region*: the part of its footprint where it is the
"deepest" scene (largest distance to its own footprint edge).  The cores partition the
covered area; in an overlap of two rectangles the seam is the overlap's midline, where
both scenes still had context on every side, far from their edge effects.  Lines are
cut at the seams and the ends that meet on a seam (from different scenes, within
``snap_m``) are moved to their midpoint and the pieces are fused, so a road crossing a
scene border is one continuous line.

A road running along a seam is seen by both scenes, a little differently, and each keeps
its own version on its side of the seam: two lines side by side over one road.  Such
stretches — a line within the two half widths of another line for longer than a
crossing or a junction would explain — are kept once
(:func:`drop_side_by_side`): the longer line stays, the other is cut there and its cut
ends are joined to the line that stayed, which is split at those points so the network
stays routable.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
import shapely.ops
from rasterio.features import rasterize, shapes
from rasterio.transform import from_origin
from scipy.ndimage import distance_transform_edt
from scipy.spatial import cKDTree

from geoseg.io.vector import road_length

log = logging.getLogger(__name__)

CELLS_PER_SCENE = 128  # raster resolution of the depth comparison (seam accuracy)
MAX_GRID_CELLS = 16_000_000
ON_LINE = 1e-3  # metres: a point this close to a boundary lies on it


def core_regions(footprints: Sequence[Any]) -> list[Any]:
    """Disjoint core polygons, one per footprint (work CRS, metres), covering their union.

    Computed on a raster of about :data:`CELLS_PER_SCENE` cells across the smallest
    scene.  A scene's depth at a cell is its distance to the nearest *inner* edge of its
    footprint (an edge lying inside another scene, where that scene can take over;
    outer edges of the covered area do not count, so the seam of two side-by-side
    scenes is the overlap's midline from end to end).  Each cell goes to the deepest
    scene (the earlier one on ties).  The label polygons are simplified as a coverage
    (shared edges move together: no gaps, no overlaps; the tolerance of about 3 cells
    straightens the raster's staircase, so a road crosses a seam once, not back and forth)
    and cut by the exact footprints.
    """
    if len(footprints) == 1:
        return [footprints[0]]
    minx, miny, maxx, maxy = shapely.union_all(list(footprints)).bounds
    cell = min(math.sqrt(fp.area) for fp in footprints) / CELLS_PER_SCENE
    cell = max(cell, math.sqrt((maxx - minx) * (maxy - miny) / MAX_GRID_CELLS))
    ncols = int(math.ceil((maxx - minx) / cell)) + 6
    nrows = int(math.ceil((maxy - miny) / cell)) + 6
    x0, y0 = minx - 3 * cell, maxy + 3 * cell
    windows, insides = [], []
    count = np.zeros((nrows, ncols), np.int32)  # how many footprints cover each cell
    for fp in footprints:
        fminx, fminy, fmaxx, fmaxy = fp.bounds
        win = (
            slice(
                max(int((y0 - fmaxy) / cell) - 2, 0),
                min(int(math.ceil((y0 - fminy) / cell)) + 2, nrows),
            ),
            slice(
                max(int((fminx - x0) / cell) - 2, 0),
                min(int(math.ceil((fmaxx - x0) / cell)) + 2, ncols),
            ),
        )
        shape = (win[0].stop - win[0].start, win[1].stop - win[1].start)
        tr = from_origin(x0 + win[1].start * cell, y0 - win[0].start * cell, cell, cell)
        inside = rasterize([fp], out_shape=shape, transform=tr, dtype="uint8").astype(bool)
        count[win] += inside
        windows.append(win)
        insides.append(inside)
    best = np.full((nrows, ncols), -1.0, np.float32)
    label = np.zeros((nrows, ncols), np.int32)
    for i, (win, inside) in enumerate(zip(windows, insides), 1):
        inner_edge = ~inside & (count[win] > 0)  # outside this scene, inside another
        depth = (
            distance_transform_edt(~inner_edge)
            if inner_edge.any()
            else np.full(inside.shape, np.inf)
        )
        depth = np.where(inside, depth, -1.0)
        deeper = depth > best[win]
        best[win][deeper] = depth[deeper]
        label[win][deeper] = i
    if (label == 0).any():  # cells outside every footprint: nearest scene's
        idx = distance_transform_edt(label == 0, return_distances=False, return_indices=True)
        label = label[idx[0], idx[1]]
    parts: dict[int, list] = {}
    for geom, value in shapes(label, transform=from_origin(x0, y0, cell, cell)):
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    regions = [shapely.union_all(parts.get(i, [])) for i in range(1, len(footprints) + 1)]
    nonempty = [k for k, r in enumerate(regions) if not r.is_empty]
    simplified = shapely.coverage_simplify([regions[k] for k in nonempty], tolerance=3 * cell)
    for k, geom in zip(nonempty, simplified):
        regions[k] = geom
    cores = [polygonal(fp.intersection(r)) for fp, r in zip(footprints, regions)]
    return _assign_slivers(cores, footprints, min_area=4 * cell * cell)


def _assign_slivers(cores: list[Any], footprints: Sequence[Any], min_area: float) -> list[Any]:
    """Tidy the cores: detached crumbs smaller than `min_area` (ties on the raster) and
    parts of footprints no core covers (a simplified seam moved into a region outside
    its own footprint) go to the covering scene whose core they touch most."""
    pool = [polygonal(shapely.union_all(list(footprints)).difference(shapely.union_all(cores)))]
    for i, core in enumerate(cores):
        parts = shapely.get_parts(core)
        if len(parts) > 1:
            crumbs = [p for p in parts if p.area < min_area]
            if len(crumbs) < len(parts):
                pool.extend(crumbs)
                cores[i] = polygonal(shapely.union_all([p for p in parts if p.area >= min_area]))
    leftover = polygonal(shapely.union_all(pool))
    tree = shapely.STRtree(list(footprints))
    for piece in sorted(shapely.get_parts(leftover), key=lambda g: -g.area):
        covering = [
            int(i)
            for i in sorted(tree.query(piece, predicate="intersects"))
            if footprints[i].intersection(piece).area > 0.5 * piece.area
        ]
        if not covering:
            continue
        touch = [piece.boundary.intersection(cores[i].boundary).length for i in covering]
        i = covering[int(np.argmax(touch))]
        cores[i] = polygonal(cores[i].union(piece))
    return cores


def polygonal(geom: Any) -> Any:
    """Only the polygon parts of a geometry (overlays can leave slivers of lines/points)."""
    geom = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _line_parts(geom: Any) -> list[np.ndarray]:
    """Coordinate arrays of the non-degenerate LineStrings in a clip result."""
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "LineString" and part.length > 0:
            out.append(np.asarray(part.coords)[:, :2])
        elif part.geom_type in ("MultiLineString", "GeometryCollection"):
            out.extend(_line_parts(part))
    return out


def clip_pieces(scene_lines: Sequence[Any], cores: Sequence[Any]) -> list[dict[str, Any]]:
    """Each scene's lines cut to its core: pieces with the line's attributes.

    `scene_lines[i]` is a GeoDataFrame in the work CRS (or None for no lines).
    """
    pieces: list[dict[str, Any]] = []
    for i, (gdf, core) in enumerate(zip(scene_lines, cores)):
        if gdf is None or len(gdf) == 0 or core.is_empty:
            continue
        clipped = gdf.geometry.values.intersection(core)
        width = gdf["width_m"].to_numpy(float) if "width_m" in gdf else np.full(len(gdf), np.nan)
        prob = gdf["mean_prob"].to_numpy(float) if "mean_prob" in gdf else np.full(len(gdf), np.nan)
        for geom, w, p in zip(clipped, width, prob):
            for coords in _line_parts(geom):
                pieces.append({"scene": i, "coords": coords, "width_m": w, "mean_prob": p})
    return pieces


def _seam_ends(pieces: list[dict], cores: Sequence[Any], coverage: Any) -> tuple[np.ndarray, ...]:
    """(points, piece index, end 0/1, scene) of piece ends lying on a seam between cores."""
    pts, owner, end, scene = [], [], [], []
    for k, pc in enumerate(pieces):
        for e, xy in ((0, pc["coords"][0]), (1, pc["coords"][-1])):
            pts.append(xy)
            owner.append(k)
            end.append(e)
            scene.append(pc["scene"])
    if not pts:
        return np.zeros((0, 2)), np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
    pts_a = np.asarray(pts, float)
    geoms = shapely.points(pts_a)
    scene_a = np.asarray(scene)
    boundaries = shapely.boundary(np.asarray(cores, dtype=object))
    shapely.prepare(boundaries)
    outer = coverage.boundary
    shapely.prepare(outer)
    on_own = shapely.dwithin(boundaries[scene_a], geoms, ON_LINE)
    on_outer = shapely.dwithin(outer, geoms, ON_LINE)
    keep = on_own & ~on_outer
    return pts_a[keep], np.asarray(owner)[keep], np.asarray(end)[keep], scene_a[keep]


def join_at_seams(pieces: list[dict], cores: Sequence[Any], snap_m: float) -> list[dict]:
    """Fuse pieces whose ends meet on a seam; returns the joined lines with attributes.

    Ends from different scenes closer than `snap_m` are paired greedily, nearest first
    (each end at most once), moved to their midpoint, and each chain of paired pieces
    becomes one line (length-weighted width and probability).
    """
    if not pieces:
        return []
    coverage = shapely.union_all(list(cores))
    pts, owner, end, scene = _seam_ends(pieces, cores, coverage)
    parent = list(range(len(pieces)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    if len(pts) > 1:
        pairs = np.array(sorted(cKDTree(pts).query_pairs(snap_m)), dtype=int).reshape(-1, 2)
        pairs = pairs[scene[pairs[:, 0]] != scene[pairs[:, 1]]]
        dist = np.linalg.norm(pts[pairs[:, 0]] - pts[pairs[:, 1]], axis=1)
        used = np.zeros(len(pts), bool)
        for a, b in pairs[np.argsort(dist, kind="stable")]:
            if used[a] or used[b] or find(owner[a]) == find(owner[b]):
                continue
            used[a] = used[b] = True
            mid = (pts[a] + pts[b]) / 2.0
            for q in (a, b):
                pieces[owner[q]]["coords"][0 if end[q] == 0 else -1] = mid
            parent[find(owner[a])] = find(owner[b])
    groups: dict[int, list[int]] = {}
    for k in range(len(pieces)):
        groups.setdefault(find(k), []).append(k)
    lines = []
    for members in groups.values():
        geoms = [shapely.linestrings(pieces[k]["coords"]) for k in members]
        lengths = np.array([g.length for g in geoms])
        merged = (
            geoms[0] if len(geoms) == 1 else shapely.line_merge(shapely.multilinestrings(geoms))
        )
        attrs = {}
        for key in ("width_m", "mean_prob"):
            vals = np.array([pieces[k][key] for k in members], float)
            ok = ~np.isnan(vals)
            attrs[key] = (
                float(np.average(vals[ok], weights=lengths[ok] + 1e-12))
                if ok.any()
                else float("nan")
            )
        names = sorted({pieces[k]["scene"] for k in members})
        for coords in _line_parts(merged):
            lines.append({"coords": coords, "scenes": names, **attrs})
    return lines


SIDE_BY_SIDE_RUN = 4.0  # a stretch this many reaches long (reach: the half widths summed)


def _intervals_outside(
    total: float, covered: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The parts of [0, total] outside the (possibly overlapping) `covered` intervals."""
    out, at = [], 0.0
    for a, b in sorted(covered):
        if a > at:
            out.append((at, a))
        at = max(at, b)
    if at < total:
        out.append((at, total))
    return out


def drop_side_by_side(lines: list[dict], default_width_m: float = 4.0) -> list[dict]:
    """Keep one line where lines of different scenes run side by side over one road.

    A stretch of a line lying within ``reach`` (the two lines' half widths summed) of a
    longer line for more than :data:`SIDE_BY_SIDE_RUN` reaches is the same road mapped
    twice (a crossing at more than ~15°, or a junction, stays shorter than that).  The
    stretch is removed; each cut end is joined by a straight step to the nearest point of
    the line that stayed, and that line is split there, so the two still share a node.
    Returns the new list of line dicts.
    """
    if len(lines) < 2:
        return lines
    widths = np.array([ln["width_m"] for ln in lines], float)
    fallback = float(np.nanmedian(widths)) if np.isfinite(widths).any() else default_width_m
    half = np.where(np.isfinite(widths), widths, fallback) / 2.0
    geoms = [shapely.linestrings(ln["coords"]) for ln in lines]
    order = sorted(range(len(lines)), key=lambda k: (-geoms[k].length, k))
    rank = np.empty(len(lines), int)
    rank[order] = np.arange(len(lines))
    tree = shapely.STRtree(geoms)
    kept: list[dict] = []  # line dicts (with their "half" width while working)
    kept_geoms: list[Any] = []
    pieces_of: dict[int, list[int]] = {}  # line -> its kept pieces
    splits: dict[int, list[np.ndarray]] = {}
    reach_max = 2 * float(half.max())
    for k in order:
        ln, h, geom = lines[k], float(half[k]), geoms[k]
        earlier = [
            int(i)
            for i in tree.query(geom, predicate="dwithin", distance=reach_max)
            if rank[i] < rank[k]
        ]
        near = [j for i in earlier for j in pieces_of.get(i, [])]
        pieces_of[k] = []
        covered, covered_by = [], []
        for j in near:
            reach = h + kept[j]["half"]
            zone = shapely.buffer(kept_geoms[j], reach, cap_style="flat")
            inside = shapely.intersection(geom, zone)
            if inside.is_empty:
                continue
            if inside.geom_type == "MultiLineString":
                inside = shapely.line_merge(inside)
            for part in shapely.get_parts(inside):
                if part.geom_type != "LineString" or part.length <= SIDE_BY_SIDE_RUN * reach:
                    continue
                a, b = sorted(
                    (
                        geom.project(shapely.Point(part.coords[0])),
                        geom.project(shapely.Point(part.coords[-1])),
                    )
                )
                covered.append((a, b))
                covered_by.append(j)
        if not covered:
            pieces_of[k].append(len(kept))
            kept.append({**ln, "half": h})
            kept_geoms.append(geom)
            continue
        log.debug(
            "line of %s runs beside another over %.1f m: kept once",
            ln["scenes"],
            sum(b - a for a, b in covered),
        )
        for a, b in _intervals_outside(geom.length, covered):
            piece = shapely.ops.substring(geom, a, b)
            if piece.geom_type != "LineString" or piece.length <= 2 * h:
                continue  # a tail beside the end of the line that stayed
            coords = np.asarray(piece.coords)[:, :2]
            for at_end, cut in ((False, a > 0), (True, b < geom.length)):
                if not cut:
                    continue
                end = shapely.Point(coords[-1] if at_end else coords[0])
                j = min(covered_by, key=lambda q: kept_geoms[q].distance(end))
                target = shapely.get_coordinates(shapely.ops.nearest_points(kept_geoms[j], end)[0])[
                    0
                ]
                coords = np.vstack([coords, target]) if at_end else np.vstack([target, coords])
                splits.setdefault(j, []).append(target)
            pieces_of[k].append(len(kept))
            kept.append({**ln, "coords": coords, "half": h})
            kept_geoms.append(shapely.linestrings(coords))
    out = []
    for j, ln in enumerate(kept):
        ln = {key: value for key, value in ln.items() if key != "half"}
        geom = kept_geoms[j]
        cuts = sorted({round(geom.project(shapely.Point(p)), 9) for p in splits.get(j, [])})
        cuts = [c for c in cuts if 0 < c < geom.length]
        if not cuts:
            out.append(ln)
            continue
        for a, b in zip([0.0, *cuts], [*cuts, geom.length]):
            piece = shapely.ops.substring(geom, a, b)
            if piece.geom_type == "LineString" and piece.length > 0:
                out.append({**ln, "coords": np.asarray(piece.coords)[:, :2]})
    return out


def node_ids(lines: list[dict]) -> tuple[list[int], list[int]]:
    """node_from / node_to: shared ids for line ends at the same place (1 mm)."""
    ids: dict[tuple[int, int], int] = {}

    def nid(xy: np.ndarray) -> int:
        key = (int(round(xy[0] * 1000)), int(round(xy[1] * 1000)))
        return ids.setdefault(key, len(ids))

    return [nid(ln["coords"][0]) for ln in lines], [nid(ln["coords"][-1]) for ln in lines]


def merge_lines(
    scene_lines: Sequence[Any],
    footprints: Sequence[Any],
    names: Sequence[str],
    *,
    work_crs: str,
    aoi: Any = None,
    snap_m: float = 4.0,
    cores: Sequence[Any] | None = None,
) -> tuple[Any, list[float]]:
    """One road layer (GeoDataFrame in `work_crs`) from per-scene lines.

    Returns the layer and each scene's road km inside its core (clipped to the AOI).
    Columns: id, length_m, width_m, mean_prob, node_from, node_to, scenes.
    """
    import geopandas as gpd  # lazy: geopandas takes ~1 s to load

    if cores is None:
        cores = core_regions(footprints) if len(footprints) else []
    if aoi is not None:
        cores = [polygonal(c.intersection(aoi)) for c in cores]
    pieces = clip_pieces(scene_lines, cores)
    km = [0.0] * len(footprints)
    for pc in pieces:
        km[pc["scene"]] += float(shapely.length(shapely.linestrings(pc["coords"]))) / 1000.0
    lines = drop_side_by_side(join_at_seams(pieces, cores, snap_m))
    lines.sort(key=lambda ln: (ln["coords"][0][0], ln["coords"][0][1], len(ln["coords"])))
    geoms = [shapely.linestrings(ln["coords"]) for ln in lines]
    node_from, node_to = node_ids(lines)
    gdf = gpd.GeoDataFrame(
        {
            "id": np.arange(len(lines), dtype=np.int64),
            "length_m": np.array([g.length for g in geoms], float),
            "width_m": np.array([ln["width_m"] for ln in lines], float),
            "mean_prob": np.array([ln["mean_prob"] for ln in lines], float),
            "node_from": np.array(node_from, np.int64),
            "node_to": np.array(node_to, np.int64),
            "scenes": [",".join(names[i] for i in ln["scenes"]) for ln in lines],
        },
        geometry=gpd.GeoSeries(geoms, crs=work_crs),
        crs=work_crs,
    )
    log.info(
        "merged %d pieces from %d scenes into %d lines (%s)",
        len(pieces),
        len(footprints),
        len(gdf),
        road_length(gdf),
    )
    return gdf, km


def duplicated_length(
    lines: Any, tol_m: float = 2.0, step_m: float = 1.0, junction_m: float = 12.0
) -> float:
    """Metres of line running within `tol_m` of another line, away from line ends.

    A quality check of a merged layer: a road mapped twice (by two overlapping scenes)
    counts its full length; lines meeting at a junction count nothing (points within
    `junction_m` of any line end are ignored).  Zero for a clean network.
    """
    geoms = [g for g in lines.geometry if g is not None and not g.is_empty]
    if len(geoms) < 2:
        return 0.0
    tree = shapely.STRtree(geoms)
    ends = shapely.points(np.concatenate([shapely.get_coordinates(g)[[0, -1]] for g in geoms]))
    ends_all = shapely.multipoints(ends)
    shapely.prepare(ends_all)
    dup = 0.0
    for i, g in enumerate(geoms):
        near = [j for j in tree.query(g, predicate="dwithin", distance=tol_m) if j != i]
        if not near:
            continue
        others = shapely.union_all([geoms[j] for j in near])
        pts = shapely.line_interpolate_point(g, np.arange(0.0, g.length, step_m))
        close = shapely.dwithin(others, pts, tol_m) & ~shapely.dwithin(ends_all, pts, junction_m)
        dup += step_m * float(np.count_nonzero(close))
    return dup
