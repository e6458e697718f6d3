"""geoseg batch end to end on a generated area: speed and merge quality.

Builds an area from one synthetic sample scene (``geoseg.sample_data``): 2 x 2 scenes
cut from it with overlaps, the last one warped into another UTM zone (EPSG:32634), so
that roads cross scene borders, overlaps and a CRS border.  Then maps it with
``run_batch``: with the truth masks as the prediction (isolates vectorize + merge), and
with `--model CKPT` as well when given.  Prints one row per run: time, MP/s, merged km
against the true km, the naive concatenation's km and metres mapped twice.

    python benchmarks/batch_area.py --out /tmp/batch_area [--model ckpt.pt] [--device cpu]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import Resampling, calculate_default_transform, reproject

from geoseg.batch import run_batch
from geoseg.batch.merge import duplicated_length
from geoseg.io.files import atomic_output
from geoseg.io.vector import read_roads
from geoseg.sample_data import generate_scene

OTHER_CRS = "EPSG:32634"


def _write(path: Path, data: np.ndarray, crs, transform, nodata=None, warp_to=None) -> None:
    profile = {
        "driver": "GTiff",
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "height": data.shape[1],
        "width": data.shape[2],
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    if warp_to is not None:
        tr, w, h = calculate_default_transform(
            crs,
            warp_to,
            data.shape[2],
            data.shape[1],
            *rasterio.transform.array_bounds(data.shape[1], data.shape[2], transform),
        )
        out = np.full((data.shape[0], h, w), nodata, data.dtype)
        reproject(
            data,
            out,
            src_transform=transform,
            src_crs=crs,
            dst_transform=tr,
            dst_crs=warp_to,
            dst_nodata=nodata,
            resampling=Resampling.nearest,
        )
        data, profile = out, profile | {"crs": warp_to, "transform": tr, "width": w, "height": h}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def build_area(out: Path, size: int = 1000, scene: int = 560, seed: int = 3):
    """Scenes a, b, c, d (d in EPSG:32634) and their truth masks; returns (scenes, truth
    dir, true roads inside the union of the scenes)."""
    full = generate_scene(size, size, seed)
    (out / "scenes").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    step = size - scene
    paths = []
    for name, (r, c) in zip("abcd", [(0, 0), (0, step), (step, 0), (step, step)]):
        x, y = full.transform * (c, r)
        tr = from_origin(x, y, full.transform.a, -full.transform.e)
        warp = OTHER_CRS if name == "d" else None
        image = full.image[:, r : r + scene, c : c + scene]
        mask = full.mask[None, r : r + scene, c : c + scene]
        _write(out / "scenes" / f"{name}.tif", image, full.crs, tr, nodata=0, warp_to=warp)
        _write(
            out / "truth" / f"{name}.tif",
            np.where(mask > 0, 1, 0).astype(np.uint8),
            full.crs,
            tr,
            nodata=255,
            warp_to=warp,
        )
        paths.append(out / "scenes" / f"{name}.tif")
    return paths, out / "truth", full.roads


def truth_predictor(truth_dir: Path):
    """Prediction = the truth mask (written as predict writes masks)."""

    def predict(scene, scene_dir: Path):
        dst = scene_dir / f"{Path(scene.path).stem}_mask.tif"
        with atomic_output(dst) as tmp:
            shutil.copyfile(truth_dir / Path(scene.path).name, tmp)
        return dst, None

    return predict


def report(label: str, result, truth_km: float) -> None:
    roads = read_roads(result.roads_path, layer="roads")
    concat = sum(float(r["road_km"] or 0) for r in result.scenes)
    per_scene = sum(
        read_roads(
            result.out_dir / "scenes" / r["scene"] / "roads.gpkg", layer="roads"
        ).length.sum()
        / 1000
        for r in result.scenes
    )
    print(
        f"{label:<22} {result.seconds:>7.1f} {result.megapixels_per_s:>6.2f} "
        f"{roads.length.sum() / 1000:>9.3f} {truth_km:>8.3f} {per_scene:>10.3f} "
        f"{duplicated_length(roads):>8.1f} {concat:>9.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--scene", type=int, default=560)
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    scenes, truth_dir, roads = build_area(args.out / "area", args.size, args.scene)
    truth_km = roads.length.sum() / 1000
    print(
        f"{'run':<22} {'seconds':>7} {'MP/s':>6} {'merged km':>9} {'true km':>8} "
        f"{'scenes km':>10} {'twice m':>8} {'core km':>9}"
    )
    t0 = time.perf_counter()
    result = run_batch(
        scenes, args.out / "truth_run", predictor=truth_predictor(truth_dir), progress=False
    )
    result.seconds = time.perf_counter() - t0
    report("truth masks", result, truth_km)
    if args.model:
        result = run_batch(
            scenes, args.out / "model_run", args.model, device=args.device, progress=False
        )
        report(f"model {args.model.stem[:16]}", result, truth_km)


if __name__ == "__main__":
    main()
