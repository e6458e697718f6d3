"""Benchmark scoring: blockwise vs whole-array pixel metrics, and APLS vs the CosmiQ reference.

    python benchmarks/metrics.py [--size 12000] [--block 2048] [--skip-pixel] [--skip-apls]

Pixel part: writes a synthetic size×size road-mask pair (tiled GeoTIFFs, written in
windows so the writer never holds the scene), then scores it (a) blockwise through
``geoseg.evaluate.evaluate_pair`` and (b) whole-array (read both, ``score_masks``), each in
its own subprocess so peak RSS is that run's alone.  The two results must be equal.

APLS part: the real SpaceNet Vegas centerlines (../shared/realdata) against perturbed
copies (a smooth ≤1.5 m warp, dropped lines, an extra spur), scored by geoseg and — when
``apls`` 0.1.0 is installed (``pip install --no-deps apls==0.1.0 utm``; its GDAL 2.4 pin
does not install) — by the CosmiQ reference on the very same graphs.  apls 0.1.0 does not
import as published (it needs the GDAL Python bindings, fiona and OpenCV for file I/O and plots that this
comparison does not use); the script stubs those three modules, imports ``apls.apls`` and
calls its ``make_graphs`` + ``compute_apls_metric`` with matching settings (50 m control
points on every edge, 4 m snapping, 10 m minimum path, renaming on).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"
GEOJSON = "spacenet_vegas_rgb/vegas_img0_roads_randomized.geojson"


# ----------------------------------------------------------------------------- pixel part
def write_pair(folder: Path, size: int, block: int = 1024) -> tuple[Path, Path]:
    """Synthetic truth (road grid) and prediction (shifted, with gaps), window by window."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="uint8",
        crs="EPSG:32633",
        transform=from_origin(500000, 4000000, 0.5, 0.5),
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
        nodata=None,
    )
    paths = folder / "truth_mask.tif", folder / "pred.tif"
    rng = np.random.default_rng(0)
    with rasterio.open(paths[0], "w", **profile) as t, rasterio.open(paths[1], "w", **profile) as p:
        for r in range(0, size, block):
            for c in range(0, size, block):
                h, w = min(block, size - r), min(block, size - c)
                yy, xx = np.mgrid[r : r + h, c : c + w]
                truth = ((yy % 300) < 8) | ((xx % 420) < 8)
                pred = (((yy + 2) % 300) < 8) | (((xx - 1) % 420) < 9)
                pred &= rng.random((h, w)) > 0.02
                pred |= (
                    ((yy % 997) - 150 < 20)
                    & ((yy % 997) > 150)
                    & ((xx % 1013) - 200 < 20)
                    & ((xx % 1013) > 200)
                )  # false-positive blobs away from roads
                t.write(truth.astype(np.uint8)[None], window=Window(c, r, w, h))
                p.write((pred * 255).astype(np.uint8)[None], window=Window(c, r, w, h))
    return paths


def run_one(mode: str, pred: str, truth: str, block: int) -> None:
    """Child process: score one way, print JSON with time, peak RSS and counts."""
    from geoseg.metrics.pixel import score_masks

    t0 = time.perf_counter()
    if mode == "blockwise":
        from geoseg.evaluate import EvalOptions, evaluate_pair

        scores = evaluate_pair(pred, truth, EvalOptions(block=block)).pixel
    else:
        import rasterio

        with rasterio.open(pred) as p, rasterio.open(truth) as t:
            scores = score_masks(p.read(1), t.read(1), rho=3)
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    print(
        json.dumps(
            {
                "s": dt,
                "rss": rss,
                "counts": list(vars(scores.confusion).values()),
                "relaxed": list(vars(scores.relaxed).values()),
                "iou": scores.confusion.iou,
                "rf1": scores.relaxed.f1,
            }
        )
    )


def pixel_benchmark(size: int, block: int) -> None:
    with tempfile.TemporaryDirectory(dir=REPO) as tmp:
        t0 = time.perf_counter()
        truth, pred = write_pair(Path(tmp), size)
        print(f"wrote {size}×{size} pair in {time.perf_counter() - t0:.1f} s")
        results = {}
        for mode in ("blockwise", "whole"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    str(pred),
                    str(truth),
                    "--block",
                    str(block),
                ],
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            if out.returncode:
                print(f"{mode}: failed\n{out.stderr[-2000:]}")
                continue
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"\n| scoring {size}×{size} ({size * size / 1e6:.0f} MP) | time s | peak RSS MiB | "
        "IoU | relaxed F1 |\n|---|---|---|---|---|"
    )
    for mode, r in results.items():
        label = f"blockwise (block {block})" if mode == "blockwise" else "whole array"
        print(f"| {label} | {r['s']:.1f} | {r['rss']:.0f} | {r['iou']:.4f} | {r['rf1']:.4f} |")
    if len(results) == 2:
        same = (
            results["blockwise"]["counts"] == results["whole"]["counts"]
            and results["blockwise"]["relaxed"] == results["whole"]["relaxed"]
        )
        b, w = results["blockwise"], results["whole"]
        print(
            f"\nidentical counts: {same}; RSS ratio whole/blockwise {w['rss'] / b['rss']:.1f}×;"
            f" time ratio blockwise/whole {b['s'] / w['s']:.2f}×"
        )


# ------------------------------------------------------------------------------ APLS part
def load_reference():
    """apls 0.1.0's apls.py with its unused GDAL/fiona/OpenCV imports stubbed; None if absent."""
    for name in ("osgeo", "fiona", "cv2"):
        if name not in sys.modules:
            stub = types.ModuleType(name)
            stub.gdal = stub.ogr = stub.osr = None
            sys.modules[name] = stub
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import apls.apls as reference
    except ImportError as exc:
        print(f"CosmiQ apls not importable ({exc}); geoseg only")
        return None
    return reference


def to_reference_graph(graph, offset: int):
    """geoseg graph → the reference's MultiGraph (x, y, geometry, length), ids + offset."""
    import networkx as nx

    from geoseg.metrics.graph import edge_line

    g = nx.MultiGraph()
    for n, xy in graph.nodes(data="xy"):
        g.add_node(n + offset, x=xy[0], y=xy[1])
    for u, v, k, d in graph.edges(keys=True, data=True):
        g.add_edge(u + offset, v + offset, geometry=edge_line(graph, u, v, k), length=d["length"])
    return g


def reference_apls(ref, truth_lines, prop_lines, min_path_length=10):
    from geoseg.metrics.graph import build_graph

    g_t = to_reference_graph(build_graph(truth_lines), 0)
    g_p = to_reference_graph(build_graph(prop_lines), 1_000_000)
    with contextlib.redirect_stdout(io.StringIO()):
        out = ref.make_graphs(
            g_t,
            g_p,
            weight="length",
            linestring_delta=50,
            is_curved_eps=-1,
            max_snap_dist=4,
            allow_renaming=True,
        )
        _, _, _, _, cp_gt, cp_prop, gt_native, prop_native, gt_prime, prop_prime = out
        total, gt_to_prop, prop_to_gt = ref.compute_apls_metric(
            gt_native,
            prop_native,
            gt_prime,
            prop_prime,
            cp_gt,
            cp_prop,
            min_path_length=min_path_length,
        )
    return total, gt_to_prop, prop_to_gt


def warp(geom, amp=1.5):
    import shapely

    return shapely.transform(
        geom, lambda c: c + amp * np.stack([np.sin(c[:, 1] / 30), np.cos(c[:, 0] / 40)], axis=1)
    )


def apls_benchmark(realdata: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import LineString

    from geoseg.metrics.apls import apls
    from geoseg.metrics.graph import to_metric_lines

    path = realdata / GEOJSON
    if not path.exists():
        print(f"{path} absent: APLS part skipped")
        return
    truth = gpd.read_file(path)
    utm = truth.to_crs(truth.estimate_utm_crs())
    warped = [warp(g) for g in utm.geometry]
    end = warped[0].coords[-1]
    cases = {
        "identical": list(utm.geometry),
        "warped ≤1.5 m": warped,
        "warped, every 4th line dropped": [g for i, g in enumerate(warped) if i % 4],
        "warped, half the lines dropped": warped[::2],
        "warped + 80 m spur": warped + [LineString([end, (end[0] + 80, end[1] + 10)])],
        "shifted 6 m (beyond snapping)": [warp(g, 0) for g in utm.geometry.translate(6, 0)],
        "warped + 60 m loop road": warped
        + [
            LineString(
                [end, (end[0] + 20, end[1]), (end[0] + 20, end[1] + 10), (end[0], end[1] + 10), end]
            )
        ],
    }
    ref = load_reference()
    print(f"\nAPLS on {GEOJSON} ({len(truth)} lines, EPSG:4326 → {utm.crs.to_string()}):\n")
    print(
        "geoseg's parameters (10 m minimum path) on both sides, then `--apls-reference` "
        "against the reference's command-line setting (0.001 m):\n"
    )
    print(
        "| proposal | geoseg APLS (gt→p, p→gt) | geoseg s | CosmiQ APLS (gt→p, p→gt) | "
        "CosmiQ s | junction F1 | geoseg --apls-reference | CosmiQ, 0.001 m |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for name, lines in cases.items():
        prop = gpd.GeoDataFrame(geometry=lines, crs=utm.crs)
        t0 = time.perf_counter()
        r = apls(truth, prop)
        dt = time.perf_counter() - t0
        ours = f"{r.apls:.4f} ({r.apls_gt_to_prop:.4f}, {r.apls_prop_to_gt:.4f})"
        rr = apls(truth, prop, reference=True)
        ours_ref = f"{rr.apls:.4f}"
        theirs, dt_ref, theirs_ref = "n/a", float("nan"), "n/a"
        if ref is not None:
            t_lines, p_lines, _ = to_metric_lines(truth, prop)
            t0 = time.perf_counter()
            try:
                c = reference_apls(ref, t_lines, p_lines)
                theirs = f"{c[0]:.4f} ({c[1]:.4f}, {c[2]:.4f})"
            except Exception as exc:  # the reference has its own failure modes
                theirs = f"failed: {type(exc).__name__}: {str(exc)[:60]}"
            dt_ref = time.perf_counter() - t0
            try:
                theirs_ref = f"{reference_apls(ref, t_lines, p_lines, 0.001)[0]:.4f}"
            except Exception as exc:
                theirs_ref = f"failed: {type(exc).__name__}"
        print(
            f"| {name} | {ours} | {dt:.2f} | {theirs} | {dt_ref:.2f} | {r.junction_f1:.3f} "
            f"| {ours_ref} | {theirs_ref} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=12000)
    ap.add_argument("--block", type=int, default=2048)
    ap.add_argument(
        "--realdata",
        type=Path,
        default=REALDATA,
        help="Folder of the real samples (default ../shared/realdata).",
    )
    ap.add_argument("--skip-pixel", action="store_true")
    ap.add_argument("--skip-apls", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "PRED", "TRUTH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_one(*args.child, block=args.block)
        return
    if not args.skip_apls:
        apls_benchmark(args.realdata)
    if not args.skip_pixel:
        pixel_benchmark(args.size, args.block)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
