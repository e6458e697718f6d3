"""How much road lines overlap on the ground (issue 12, "one road, one line")."""

from __future__ import annotations

import numpy as np


def overlap_stats(roads) -> dict[str, float]:
    """Buffer each line by half its ``width_m`` (flat ends; metres, through UTM for a
    geographic CRS) and compare the buffers' summed area with their union's.

    ``summed_over_union``: all of each line; 1.0 when no two lines share ground, a few
    per cent above where lines meet (their buffers overlap inside the junction).
    ``side_by_side``: the same with each line cut back by 1.5× the widest half width at
    each of its end nodes, so junctions do not count: what is left over 1.0 is lines
    running next to each other (or a line folding back over itself).
    ``length_excess``: summed length over the distinct geometry's length, minus 1.
    """
    import shapely
    import shapely.ops

    g = roads
    if g.crs is not None and g.crs.is_geographic:
        g = g.to_crs(g.estimate_utm_crs())
    geoms = np.asarray(g.geometry.values)
    # lines without a CRS carry width_px (the no-CRS rule: pixels are never metres)
    half = roads["width_m" if "width_m" in roads else "width_px"].to_numpy(float) / 2
    if len(geoms) == 0:
        return {"summed_over_union": 1.0, "side_by_side": 1.0, "length_excess": 0.0}
    buffers = shapely.buffer(geoms, half, cap_style="flat")
    summed = float(shapely.area(buffers).sum() / shapely.union_all(buffers).area)
    widest: dict[int, float] = {}
    for node, h in zip(np.r_[roads["node_from"], roads["node_to"]], np.r_[half, half]):
        widest[node] = max(widest.get(node, 0.0), h)
    lengths = shapely.length(geoms)
    cut0 = np.array([1.5 * widest[n] for n in roads["node_from"]])
    cut1 = np.array([1.5 * widest[n] for n in roads["node_to"]])
    long = lengths > cut0 + cut1
    middles = np.array(
        [
            shapely.ops.substring(ln, a, total - b)
            for ln, a, b, total in zip(geoms[long], cut0[long], cut1[long], lengths[long])
        ],
        dtype=object,
    )
    inner = shapely.buffer(middles, half[long], cap_style="flat")
    nominal = float((shapely.length(middles) * 2 * half[long]).sum())
    union = shapely.union_all(inner).area if len(inner) else 0.0
    side = max(float(shapely.area(inner).sum()), nominal) / union if union else 1.0
    excess = float(lengths.sum() / shapely.union_all(geoms).length - 1)
    return {"summed_over_union": summed, "side_by_side": side, "length_excess": excess}
