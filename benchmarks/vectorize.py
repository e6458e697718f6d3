"""Benchmark: full vectorization pipeline vs the bare classic path on a ~12000² road mask.

The real SpaceNet Las Vegas road mask (1300², EPSG:4326, ~0.3 m) is tiled 9×9 into an
11700² GeoTIFF (windowed writes, tiled and DEFLATE-compressed like geoseg's outputs).
Each path runs in its own subprocess so its peak RSS is its own:

- bare: read the whole mask → skimage skeletonize → sknw graph → shapely LineStrings in
  the CRS (CRESI's approach; no cleanup, pruning, attributes or output file);
- full: ``geoseg.vectorize_mask`` (cleanup, skeleton, graph, prune, bridge, simplify,
  attributes, block processing) + ``write_roads`` to a GeoPackage.

Goals (issue 6): full ≤ 1.5× the bare time, full peak RSS ≤ 1.0 GB.
Run: ``python benchmarks/vectorize.py [--tiles 9] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("GEOSEG_REALDATA", REPO.parent / "shared" / "realdata"))
SOURCE = REALDATA / "spacenet_vegas_pan" / "vegas_pan_roads_mask.tif"


def make_mask(path: Path, tiles: int, source: Path = SOURCE) -> tuple[int, int]:
    """Tile the real mask `tiles`×`tiles` into `path`, one tile row at a time."""
    import numpy as np
    import rasterio
    from rasterio.transform import Affine
    from rasterio.windows import Window

    with rasterio.open(source) as src:
        tile, profile = src.read(1), src.profile
    h, w = tile.shape
    profile.update(
        width=w * tiles,
        height=h * tiles,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        transform=Affine(*src.transform[:6]),
    )
    with rasterio.open(path, "w", **profile) as dst:
        row = np.tile(tile, (1, tiles))
        for i in range(tiles):
            dst.write(row, 1, window=Window(0, i * h, w * tiles, h))
    return h * tiles, w * tiles


def run_bare(mask: Path) -> dict:
    import numpy as np
    import rasterio
    import shapely
    import sknw
    from skimage.morphology import skeletonize

    start = time.perf_counter()
    with rasterio.open(mask) as src:
        road, transform = src.read(1) > 0, src.transform
    graph = sknw.build_sknw(skeletonize(road))
    del road
    pts = [graph.edges[e]["pts"] for e in graph.edges]
    pts = [p for p in pts if len(p) >= 2]
    rc = np.vstack(pts).astype(np.float64)
    x, y = transform @ (rc[:, 1] + 0.5, rc[:, 0] + 0.5)
    lines = shapely.linestrings(
        np.column_stack([x, y]), indices=np.repeat(np.arange(len(pts)), [len(p) for p in pts])
    )
    return {
        "seconds": time.perf_counter() - start,
        "lines": len(lines),
        "vertices": int(shapely.get_num_coordinates(lines).sum()),
    }


def run_full(mask: Path, out: Path) -> dict:
    import shapely
    import skan.csr  # noqa: F401  (imported before the clock, like sknw in the bare path)

    from geoseg.io.vector import write_roads
    from geoseg.vectorize import vectorize_mask

    start = time.perf_counter()
    roads = vectorize_mask(mask, progress=False)
    write_roads(roads, out)
    return {
        "seconds": time.perf_counter() - start,
        "lines": len(roads),
        "vertices": int(shapely.get_num_coordinates(roads.geometry.values).sum()),
        "km": float(roads["length_m"].sum() / 1000),
    }


def child(kind: str, mask: Path, out: Path) -> None:
    cpu = time.process_time()
    result = run_bare(mask) if kind == "bare" else run_full(mask, out)
    result["cpu_seconds"] = time.process_time() - cpu
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, mask: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(mask), str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=9)
    parser.add_argument(
        "--source",
        type=Path,
        default=SOURCE,
        help="road mask to tile (default: ../shared/realdata or $GEOSEG_REALDATA)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per path (best kept)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "MASK", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    if not args.source.exists():
        raise SystemExit(f"{args.source}: road mask not found (set GEOSEG_REALDATA or --source)")
    with tempfile.TemporaryDirectory() as tmp:
        mask = Path(tmp) / "mask.tif"
        h, w = make_mask(mask, args.tiles, args.source)
        results = {}
        for _ in range(args.repeat):
            for kind in ("bare", "full"):
                r = measure(kind, mask, Path(tmp) / "roads.gpkg")
                if kind in results:  # best of the runs, each measure on its own
                    for key in ("seconds", "cpu_seconds", "peak_rss_mb"):
                        r[key] = min(r[key], results[kind][key])
                results[kind] = r
    bare, full = results["bare"], results["full"]
    print(
        f"mask {w}×{h} = {w * h / 1e6:.0f} MP (SpaceNet Vegas road mask tiled "
        f"{args.tiles}×{args.tiles})"
    )
    print(f"{'path':<6}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}{'lines':>9}{'vertices':>11}")
    for name, r in (("bare", bare), ("full", full)):
        print(
            f"{name:<6}{r['seconds']:>9.1f}{r['cpu_seconds']:>9.1f}{r['peak_rss_mb']:>13.0f}"
            f"{r['lines']:>9}{r['vertices']:>11}"
        )
    ratio = full["seconds"] / bare["seconds"]
    cpu_ratio = full["cpu_seconds"] / bare["cpu_seconds"]
    print(
        f"full/bare: wall {ratio:.2f}×, CPU {cpu_ratio:.2f}× (goal ≤ 1.5×)  full peak RSS: "
        f"{full['peak_rss_mb'] / 1024:.2f} GB (goal ≤ 1.0 GB)  road length {full['km']:.1f} km"
    )


if __name__ == "__main__":
    main()
