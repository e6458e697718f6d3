"""Benchmark `geoseg.predict_scene`: pipeline overhead and memory versus scene size.

(a) end-to-end predict time / bare model forward time over the same number of tiles
    (same model, tile, batch), on a 4096² scene.                      goal ≤ 1.15
(b) peak RSS of a whole predict run, one fresh subprocess per case, for a 3072² and a
    12288² scene, plus the bare forward pass at the same batch for reference.
                                     goal: ratio ≤ 1.15 and ≤ 2 GB for 12288² with
                                     LinkNet-ResNet34, tile 512, batch 4

Scenes are synthetic uint8 RGB GeoTIFFs written block row by block row into a temporary
folder (never held in memory).  The model is geoseg's LinkNet-ResNet34 when
``geoseg.models`` is available, else segmentation_models_pytorch's ``Linknet("resnet34")``
(same network family); random weights, since speed and memory do not depend on them.
``--rss-model pixel`` swaps in a 1×1-conv model for (b): it measures what the pipeline
itself (reader, stitcher, writer, GDAL cache) adds, in minutes instead of an hour on CPU.

(c) the I/O ceiling: geoseg with a near-free network (a 1×1 convolution: its output
    depends on its input) against a raw rasterio loop that reads the same scene in
    512-px tiles and writes two uint8 DEFLATE rasters holding the very arrays geoseg
    wrote (same profile), at 1, 2 and all cores (the process is pinned to that many
    cores; GDAL, torch and geoseg get that many threads).  4096² (``--io-size 8192``).
                                                 goal: geoseg / raw ≥ 0.8 at every count
    The table also times the network alone over the same tiles (net s) and prints the
    ceiling raw / (raw + net s): what even a pipeline adding nothing but the network
    would reach; on a CPU the "near-free" 1×1 conv is not free.
(d) where the time goes: busy seconds per pipeline stage (read, prepare, H2D, compute,
    D2H, blend, convert, write, finish) of the (c) run on all cores, and of (a); encode
    is estimated as the write time with DEFLATE minus the write time uncompressed.

(e) where the CPU goes, robust to a shared machine (CPU clocks, not wall time): cProfile
    with each thread's own CPU clock over every pipeline thread of one geoseg run with the
    1×1-conv model on one core, the top functions by CPU, and the whole process's CPU
    seconds against the raw loop's.  ``--only e``; 2048² (``--io-size``).

    python benchmarks/predict.py                 # full sizes (long on a CPU)
    python benchmarks/predict.py --quick         # 1024² / 768² vs 3072²: checks it works
    python benchmarks/predict.py --only b --rss-model pixel          # pipeline memory only
    python benchmarks/predict.py --only b --sizes 3072 12288x1536    # full width, fewer rows
    python benchmarks/predict.py --only c --io-size 8192             # I/O ceiling, 8192²
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build_model(name: str):
    """'linknet34' (geoseg's if present, else smp's) or 'pixel' (a 1×1 conv)."""
    import torch

    if name == "pixel":
        model = torch.nn.Conv2d(3, 1, 1)
        label = "1x1 conv (pipeline only)"
    else:
        try:
            from geoseg.models import create_model

            model = create_model("linknet", "resnet34", in_channels=3, encoder_weights=None)
            label = "geoseg LinkNet-ResNet34"
        except ImportError:
            import segmentation_models_pytorch as smp

            model = smp.Linknet("resnet34", encoder_weights=None, classes=1)
            label = "smp Linknet-ResNet34"
    model.norm_mean = [0.485, 0.456, 0.406]
    model.norm_std = [0.229, 0.224, 0.225]
    model.in_channels = 3
    model.bench_label = label
    return model.eval()


def parse_size(spec: str) -> tuple[int, int]:
    """'3072' -> (3072, 3072); '12288x1536' -> (width 12288, height 1536)."""
    w, _, h = str(spec).partition("x")
    return int(w), int(h or w)


def size_label(spec: str) -> str:
    w, h = parse_size(spec)
    return f"{w}²" if w == h else f"{w}×{h}"


def make_scene(path: Path, size: int, height: int | None = None) -> Path:
    """A size×height uint8 RGB GeoTIFF with a road-like grid over textured ground,
    written in 256-row strips (memory: one strip)."""
    import rasterio
    from rasterio.transform import from_origin

    height = height or size
    profile = dict(
        driver="GTiff",
        width=size,
        height=height,
        count=3,
        dtype="uint8",
        crs="EPSG:32633",
        transform=from_origin(500000, 4100000, 0.5, 0.5),
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
        bigtiff="IF_SAFER",
    )
    rng = np.random.default_rng(0)
    cols = np.arange(size)
    with rasterio.open(path, "w", **profile) as dst:
        for top in range(0, height, 256):
            rows = np.arange(top, min(top + 256, height))[:, None]
            ground = 90 + 30 * np.sin(rows / 37.0) * np.cos(cols / 53.0)
            road = ((rows % 700) < 14) | ((cols % 900) < 14) | (np.abs(rows - cols) % 1500 < 10)
            noise = rng.integers(0, 20, (3, rows.shape[0], size))
            strip = np.where(road, 200, ground)[None] + noise
            dst.write(
                strip.clip(0, 255).astype(np.uint8),
                window=rasterio.windows.Window(0, top, size, rows.shape[0]),
            )
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bare_forward(model, n_tiles: int, tile: int, batch: int, amp: bool = True) -> float:
    """Seconds for the model alone over `n_tiles` tiles, as predict_scene batches them
    (same memory format and precision: channels_last, AMP where the CPU has bf16 unless
    `amp` is False), sigmoid included."""
    import torch

    from geoseg.device import as_input, autocast, prepare_model

    cpu = torch.device("cpu")
    model = prepare_model(model, cpu)
    x = as_input(torch.randn(batch, 3, tile, tile))
    start = time.perf_counter()
    with torch.inference_mode(), autocast(cpu, enabled=amp):
        for i in range(0, n_tiles, batch):
            model(x[: min(batch, n_tiles - i)]).float().sigmoid()
    return time.perf_counter() - start


def child(args) -> None:
    """One measured case in a fresh process; prints a JSON line."""
    import torch

    model = build_model(args.model)
    if args.child == "forward":
        from geoseg.io.windows import TileGrid

        grid = TileGrid(args.size, args.size, args.tile, args.overlap)
        seconds = bare_forward(model, min(len(grid), 3 * args.batch), args.tile, args.batch)
        out = {"seconds": seconds, "tiles": min(len(grid), 3 * args.batch)}
    else:
        from geoseg import predict_scene

        with tempfile.TemporaryDirectory() as tmp:
            r = predict_scene(
                args.scene,
                model,
                tmp,
                tile=args.tile,
                overlap=args.overlap,
                batch_size=args.batch,
                device="cpu",
                progress=False,
            )
            out = {"seconds": r.seconds, "tiles": r.n_tiles, "mp_s": r.megapixels_per_s}
    out.update(peak_mb=peak_rss_mb(), label=model.bench_label, threads=torch.get_num_threads())
    print(json.dumps(out))


def run_child(*argv: str) -> dict:
    cmd = [sys.executable, __file__, *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def overhead(tmp: Path, size: int, tile: int, overlap: int, batch: int) -> None:
    """Bare forward before and after the end-to-end run (averaged: the CPU is shared and
    noisy), plus the time predict_scene spent outside the model's forward."""
    from geoseg import predict_scene
    from geoseg.io.windows import TileGrid

    model = build_model("linknet34")
    scene = make_scene(tmp / f"a_{size}.tif", size)
    n_tiles = len(TileGrid(size, size, tile, overlap))
    bare_forward(model, batch, tile, batch)  # warm-up: first-call allocations
    before = bare_forward(model, n_tiles, tile, batch)
    in_model = []
    forward = model.forward

    def timed(x):
        t = time.perf_counter()
        y = forward(x)
        in_model.append(time.perf_counter() - t)
        return y

    model.forward = timed
    e2e = predict_scene(
        scene, model, tmp / "a_out", tile=tile, overlap=overlap, batch_size=batch, device="cpu"
    )
    model.forward = forward
    after = bare_forward(model, n_tiles, tile, batch)
    bare = (before + after) / 2
    print(
        f"\n(a) overhead, {size}² scene, {model.bench_label}, tile {tile}, overlap {overlap}, "
        f"batch {batch}, CPU"
    )
    print(
        f"{'tiles':>5} {'end-to-end s':>12} {'bare fwd s (before/after)':>26} "
        f"{'e2e/bare':>8} {'in model s':>10} {'e2e/in model':>12} {'MP/s':>6}"
    )
    print(
        f"{e2e.n_tiles:>5} {e2e.seconds:>12.1f} {bare:>9.1f} ({before:.1f}/{after:.1f})"
        f"{'':>4} {e2e.seconds / bare:>8.3f} {sum(in_model):>10.1f} "
        f"{e2e.seconds / sum(in_model):>12.3f} {e2e.megapixels_per_s:>6.3f}"
    )
    print(
        "goal: end-to-end / bare forward ≤ 1.15.  On a shared CPU the two bare runs can "
        "differ a lot;\ne2e/in model (end-to-end over the forward time inside that same "
        "run) is the robust figure."
    )
    print_stages(f"(d) stages of (a), {e2e.seconds:.1f} s wall", e2e.stages, e2e.stage_cpu)


def print_stages(title: str, stages: dict, cpu: dict, encode: float | None = None) -> None:
    """One line per pipeline stage: busy and CPU seconds summed over its threads."""
    print(
        f"\n{title}: seconds per stage, summed over threads (stages overlap; busy includes "
        "waiting for a core on a shared CPU)"
    )
    print(f"  {'stage':<8} {'busy s':>8} {'CPU s':>8}")
    for name, sec in stages.items():
        print(f"  {name:<8} {sec:8.3f} {cpu.get(name, 0.0):8.3f}")
    if encode is not None:
        print(
            f"  (encode ≈ write busy s with DEFLATE − write busy s uncompressed = {encode:.3f} s)"
        )


def raw_io(
    scene: Path, prob: np.ndarray, mask: np.ndarray, out: Path, threads: int, tile: int = 512
) -> float:
    """Seconds for the plain rasterio loop: read `scene` in tile×tile windows (each pixel
    once), write `prob` and `mask` (uint8, geoseg's output profile, DEFLATE) a tile row
    of rows at a time."""
    import rasterio
    from rasterio.windows import Window

    from geoseg.io.raster import gdal_env, open_scene, output_profile

    info = open_scene(scene)
    out.mkdir(exist_ok=True)
    start = time.perf_counter()
    with (
        gdal_env(threads=threads),
        rasterio.open(scene) as src,
        rasterio.open(
            out / "prob.tif", "w", **output_profile(info, "uint8", "deflate", threads)
        ) as p,
        rasterio.open(
            out / "mask.tif", "w", **output_profile(info, "uint8", "deflate", threads)
        ) as m,
    ):
        for top in range(0, info.height, tile):
            rows = min(tile, info.height - top)
            checksum = 0
            for left in range(0, info.width, tile):
                block = src.read(window=Window(left, top, min(tile, info.width - left), rows))
                checksum += int(block[0, 0, 0])  # touch the pixels
            band = Window(0, top, info.width, rows)
            p.write(prob[top : top + rows], 1, window=band)
            m.write(mask[top : top + rows], 1, window=band)
    return time.perf_counter() - start


def io_ceiling(tmp: Path, size: int, tile: int, overlap: int, batch: int, reps: int) -> None:
    """(c) and (d): geoseg with a 1×1 conv against the raw rasterio loop, per core count."""
    import rasterio
    import torch

    from geoseg import predict_scene
    from geoseg.inference.pipeline import available_cores

    cores = sorted(os.sched_getaffinity(0))
    scene = make_scene(tmp / f"c_{size}.tif", size)
    model = build_model("pixel")
    counts = sorted({1, min(2, len(cores)), len(cores)})
    rows, last = [], None
    for n in counts:
        os.sched_setaffinity(0, cores[:n])
        torch.set_num_threads(n)
        assert available_cores() == n
        best_g = best_r = float("inf")
        for rep in range(reps):  # alternate, keep the best of each: the CPU is shared
            out = tmp / f"c_out_{n}_{rep}"
            c0 = time.process_time()
            r = predict_scene(
                scene,
                model,
                out,
                tile=tile,
                overlap=overlap,
                batch_size=batch,
                device="cpu",
                threads=n,
                progress=False,
                amp=False,
            )
            if r.seconds < best_g:
                best_g, last, geo_cpu = r.seconds, r, time.process_time() - c0
            with rasterio.open(r.prob_path) as a, rasterio.open(r.mask_path) as b:
                prob, mask = a.read(1), b.read(1)
            c0 = time.process_time()
            raw = raw_io(scene, prob, mask, tmp / f"c_raw_{n}_{rep}", n, tile)
            if raw < best_r:
                best_r, raw_cpu = raw, time.process_time() - c0
        bare_forward(model, batch, tile, batch, amp=False)  # warm-up at this thread count
        net = min(bare_forward(model, r.n_tiles, tile, batch, amp=False) for _ in range(reps))
        rows.append((n, best_g, best_r, net))
    none = predict_scene(
        scene,
        model,
        tmp / "c_none",
        tile=tile,
        overlap=overlap,
        batch_size=batch,
        device="cpu",
        threads=counts[-1],
        compress="none",
        progress=False,
        amp=False,
    )
    os.sched_setaffinity(0, cores)
    mp = size * size / 1e6
    print(
        f"\n(c) I/O ceiling, {size}² uint8 RGB scene, 1×1-conv model (fp32: bf16 would only "
        f"add casts to it), tile {tile}, overlap {overlap}, batch {batch}, best of {reps}"
    )
    print(
        f"{'cores':>5} {'geoseg s':>9} {'geoseg MP/s':>11} {'raw s':>7} {'raw MP/s':>9} "
        f"{'geoseg/raw':>10} {'net s':>6} {'ceiling':>7} {'geoseg/ceiling':>14}"
    )
    for n, g, r, net in rows:
        ceiling = r / (r + net)
        print(
            f"{n:>5} {g:>9.2f} {mp / g:>11.1f} {r:>7.2f} {mp / r:>9.1f} {r / g:>10.3f} "
            f"{net:>6.2f} {ceiling:>7.3f} {r / g / ceiling:>14.3f}"
        )
    print(
        "goal: geoseg / raw ≥ 0.8 at every core count (raw: read in 512-px tiles, write "
        "geoseg's two uint8 arrays, DEFLATE).\nnet s: the network alone (forward + sigmoid "
        "over the same tiles and batches, same threads, inputs ready); ceiling = raw / (raw + "
        "net s): geoseg / raw\nof a pipeline that added nothing but the network's own time "
        "to the raw loop (no normalising, no blending)."
    )
    encode = last.stages["write"] - none.stages["write"]
    print_stages(
        f"(d) stages of the (c) geoseg run on {counts[-1]} cores, {last.seconds:.2f} s wall",
        last.stages,
        last.stage_cpu,
        encode,
    )
    print(
        f"  whole process CPU: geoseg {geo_cpu:.2f} s, raw loop {raw_cpu:.2f} s (the best "
        f"runs on {counts[-1]} cores, GDAL's threads included)"
    )


def cpu_profile(tmp: Path, size: int, tile: int, overlap: int, batch: int, top: int = 15) -> None:
    """(e): per-function CPU seconds over all threads of one geoseg run vs the raw loop."""
    import cProfile
    import io
    import pstats
    import threading

    import rasterio
    import torch

    from geoseg import predict_scene

    torch.set_num_threads(1)
    scene = make_scene(tmp / f"e_{size}.tif", size)
    model = build_model("pixel")
    profiles = [cProfile.Profile(time.thread_time)]
    run = threading.Thread.run

    def profiled(thread):  # every pipeline thread under its own CPU-clock profiler
        prof = cProfile.Profile(time.thread_time)
        profiles.append(prof)
        prof.enable()
        try:
            run(thread)
        finally:
            prof.disable()

    threading.Thread.run = profiled  # type: ignore[method-assign]
    c0 = time.process_time()
    profiles[0].enable()
    try:
        r = predict_scene(
            scene,
            model,
            tmp / "e_out",
            tile=tile,
            overlap=overlap,
            batch_size=batch,
            device="cpu",
            threads=1,
            progress=False,
            amp=False,
        )
    finally:
        profiles[0].disable()
        threading.Thread.run = run  # type: ignore[method-assign]
    geo_cpu = time.process_time() - c0
    with rasterio.open(r.prob_path) as a, rasterio.open(r.mask_path) as b:
        prob, mask = a.read(1), b.read(1)
    c0 = time.process_time()
    raw_io(scene, prob, mask, tmp / "e_raw", 1, tile)
    raw_cpu = time.process_time() - c0
    print(
        f"\n(e) CPU profile, {size}² scene, 1×1-conv model, 1 core: process CPU geoseg "
        f"{geo_cpu:.2f} s, raw loop {raw_cpu:.2f} s (raw/geoseg {raw_cpu / geo_cpu:.3f})"
    )
    print("  stage CPU s: " + ", ".join(f"{k} {v:.3f}" for k, v in r.stage_cpu.items()))
    stats = pstats.Stats(profiles[0], stream=io.StringIO())
    for prof in profiles[1:]:
        stats.add(prof)
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    print("\n".join("  " + line for line in lines[start:] if line.strip()))


def memory(tmp: Path, sizes: list[str], model: str, tile: int, overlap: int, batch: int) -> None:
    common = [
        "--model",
        model,
        "--tile",
        str(tile),
        "--overlap",
        str(overlap),
        "--batch",
        str(batch),
    ]
    rows = []
    w0, h0 = parse_size(sizes[0])
    ref = run_child("--child", "forward", "--size", str(max(w0, h0)), *common)
    rows.append(("bare forward", ref))
    for spec in sizes:
        scene = make_scene(tmp / f"b_{spec}.tif", *parse_size(spec))
        result = run_child("--child", "predict", "--scene", str(scene), *common)
        rows.append((f"predict {size_label(spec)}", result))
        scene.unlink()
    print(
        f"\n(b) peak RSS, one subprocess per case, {rows[0][1]['label']}, tile {tile}, "
        f"batch {batch}, CPU ({rows[0][1]['threads']} torch threads)"
    )
    print(f"{'case':<20} {'tiles':>6} {'seconds':>8} {'peak RSS MB':>12}")
    for name, r in rows:
        print(f"{name:<20} {r['tiles']:>6} {r['seconds']:>8.1f} {r['peak_mb']:>12.0f}")
    if len(sizes) > 1:
        small, big = rows[1][1]["peak_mb"], rows[-1][1]["peak_mb"]
        print(
            f"ratio {size_label(sizes[-1])} / {size_label(sizes[0])}: {big / small:.3f} "
            f"(goal ≤ 1.15); the largest adds {big - ref['peak_mb']:.0f} MB over the bare "
            "forward"
        )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small sizes, to check the script works")
    p.add_argument(
        "--only", nargs="+", choices=["a", "b", "c", "e"], help="run these parts (c includes d)"
    )
    p.add_argument("--a-size", type=int, help="scene side for (a) [4096; 1024 with --quick]")
    p.add_argument("--io-size", type=int, help="scene side for (c) [4096; 1024 with --quick]")
    p.add_argument("--reps", type=int, default=2, help="repetitions per case in (c)")
    p.add_argument("--rss-model", default="linknet34", choices=["linknet34", "pixel"])
    p.add_argument("--sizes", nargs="+", help="scenes for (b): N (N²) or WxH, e.g. 12288x1536")
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--overlap", type=int, default=64)
    p.add_argument("--batch", type=int, default=4)
    # child-process arguments
    p.add_argument("--child", choices=["predict", "forward"], help=argparse.SUPPRESS)
    p.add_argument("--scene", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--model", default="linknet34", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    a_size, b_sizes = (1024, ["768", "3072"]) if args.quick else (4096, ["3072", "12288"])
    b_sizes = args.sizes or b_sizes
    a_size = args.a_size or a_size
    with tempfile.TemporaryDirectory(prefix="geoseg-bench-") as tmp:
        if args.only is None or "a" in args.only:
            overhead(Path(tmp), a_size, args.tile, args.overlap, args.batch)
        if args.only is None or "b" in args.only:
            memory(Path(tmp), b_sizes, args.rss_model, args.tile, args.overlap, args.batch)
        if args.only is None or "c" in args.only:
            io_size = args.io_size or (1024 if args.quick else 4096)
            io_ceiling(Path(tmp), io_size, args.tile, args.overlap, args.batch, args.reps)
        if args.only is not None and "e" in args.only:
            e_size = args.io_size or (1024 if args.quick else 2048)
            cpu_profile(Path(tmp), e_size, args.tile, args.overlap, args.batch)


if __name__ == "__main__":
    main()
