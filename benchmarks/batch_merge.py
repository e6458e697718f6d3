"""Merge cost and quality as the number of scenes grows (geoseg batch's rank-0 step).

Synthetic area: an N x N grid of 512 m scenes overlapping by 10 %, a road network of
straight and diagonal roads across the whole area.  Every scene "found" the roads inside
its footprint, each with its own small offset (up to 0.7 m, as independent predictions
would), so every overlap holds each road twice.  Measured: time to compute the core
regions and to merge, merged length against the true network length (1.000 = no
duplicate and no gap), and lines per road crossing (1.0 = joined at every border).

    python benchmarks/batch_merge.py [--sizes 2 4 8 16]
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, box

from geoseg.batch.merge import core_regions, merge_lines

CRS = "EPSG:32633"
SCENE_M, OVERLAP = 512.0, 0.10


def area(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    step = SCENE_M * (1 - OVERLAP)
    footprints = [
        box(c * step, r * step, c * step + SCENE_M, r * step + SCENE_M)
        for r in range(n)
        for c in range(n)
    ]
    side = (n - 1) * step + SCENE_M
    roads = []
    for k in np.arange(97.0, side, 211.0):  # a road grid, not aligned with the scenes
        roads.append(LineString([(0, k), (side, k + rng.uniform(-20, 20))]))
        roads.append(LineString([(k, 0), (k + rng.uniform(-20, 20), side)]))
    roads.append(LineString([(0, 0), (side, side)]))
    return footprints, roads, side


def scene_lines(footprints, roads, seed: int = 1):
    rng = np.random.default_rng(seed)
    out = []
    for fp in footprints:
        dx, dy = rng.uniform(-0.5, 0.5, 2)
        geoms = [shapely.affinity.translate(r, dx, dy).intersection(fp) for r in roads]
        geoms = [g for g in shapely.get_parts(geoms) if g.geom_type == "LineString" and g.length]
        out.append(
            gpd.GeoDataFrame(
                {"width_m": 6.0, "mean_prob": 0.9}, geometry=geoms, index=range(len(geoms)), crs=CRS
            )
        )
    return out


def run(n: int) -> dict:
    footprints, roads, side = area(n)
    lines = scene_lines(footprints, roads)
    names = [f"s{i}" for i in range(len(footprints))]
    t0 = time.perf_counter()
    cores = core_regions(footprints)
    t1 = time.perf_counter()
    merged, _ = merge_lines(lines, footprints, names, work_crs=CRS, snap_m=4.0, cores=cores)
    t2 = time.perf_counter()
    truth = sum(r.intersection(box(0, 0, side, side)).length for r in roads)
    naive = sum(g.length.sum() for g in lines)
    return {
        "scenes": len(footprints),
        "area_km2": side * side / 1e6,
        "cores_s": t1 - t0,
        "merge_s": t2 - t1,
        "naive_len": naive / truth,
        "merged_len": merged.length.sum() / truth,
        "lines_per_road": len(merged) / len(roads),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8, 16])
    args = parser.parse_args()
    print(
        f"{'scenes':>6} {'km2':>7} {'cores s':>8} {'merge s':>8} "
        f"{'concat/true':>11} {'merged/true':>11} {'lines/road':>10}"
    )
    for n in args.sizes:
        r = run(n)
        print(
            f"{r['scenes']:>6} {r['area_km2']:>7.2f} {r['cores_s']:>8.2f} {r['merge_s']:>8.2f} "
            f"{r['naive_len']:>11.3f} {r['merged_len']:>11.4f} {r['lines_per_road']:>10.2f}"
        )


if __name__ == "__main__":
    main()
