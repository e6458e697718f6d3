"""Writing sample scenes to disk: GeoTIFFs, GeoPackage, and the standard sample set.

Files are byte-for-byte reproducible: no timestamps in the GeoTIFFs, a fixed
modification date in the GeoPackage, single-threaded DEFLATE.  Each file is written
under a temporary name and renamed when complete (:func:`geoseg.io.files.atomic_output`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from tqdm import tqdm

from geoseg import __version__
from geoseg.errors import OutputError
from geoseg.io.files import atomic_output, ensure_writable_dir, output_set
from geoseg.sample_data.scene import SampleScene, generate_scene
from geoseg.viz import overlay_png

log = logging.getLogger(__name__)

BLOCK = 256
FIXED_DATE = "2020-01-01T00:00:00Z"  # GeoPackage "last change": fixed so files are reproducible
DEFAULT_SIZE = 768
README_TITLE = "# geoseg sample data"


def _profile(scene: SampleScene, count: int, dtype: str, nodata) -> dict:
    h, w = scene.mask.shape
    return {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": count,
        "dtype": dtype,
        "crs": scene.crs,
        "transform": scene.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "deflate",
        "predictor": 2,
        "zlevel": 9,
        "num_threads": 1,
    }


def write_scene(scene: SampleScene, outdir: str | Path, name: str) -> dict[str, Path]:
    """Write `<name>.tif`, `<name>_mask.tif` and `<name>_roads.gpkg` into `outdir`.

    Returns ``{"image": ..., "mask": ..., "roads": ...}``.  The image is tiled
    (256 x 256 blocks), DEFLATE-compressed with a horizontal predictor, with the
    scene's nodata value; the mask is uint8 0/1 on the same grid.
    """
    outdir = ensure_writable_dir(outdir)
    paths = {
        "image": outdir / f"{name}.tif",
        "mask": outdir / f"{name}_mask.tif",
        "roads": outdir / f"{name}_roads.gpkg",
    }
    image = scene.image
    profile = _profile(scene, image.shape[0], image.dtype.name, scene.nodata)
    if image.shape[0] == 3 and image.dtype == np.uint8:
        profile["photometric"] = "RGB"
    tags = {"GEOSEG_SAMPLE_SEED": str(scene.seed), "GEOSEG_VERSION": __version__}
    with (
        atomic_output(paths["image"], kind="sample") as tmp,
        rasterio.open(tmp, "w", **profile) as dst,
    ):
        dst.write(image)
        dst.descriptions = scene.band_names
        dst.update_tags(**tags)
    with (
        atomic_output(paths["mask"], kind="sample") as tmp,
        rasterio.open(tmp, "w", **_profile(scene, 1, "uint8", None)) as dst,
    ):
        dst.write(scene.mask[None])
        dst.descriptions = ("road",)
        dst.update_tags(**tags, MEANING="1 = road (also under tree crowns), 0 = not road or nodata")
    _write_roads(scene, paths["roads"])
    return paths


def preview(scene: SampleScene, path: str | Path, max_size: int = 1280) -> Path:
    """A PNG of the scene (left) beside the scene with its road mask in red (right)."""
    rgb = tuple(scene.band_names.index(b) for b in ("red", "green", "blue"))
    return overlay_png(
        scene.image, scene.mask, path, max_size, rgb=rgb, valid=scene.valid, side_by_side=True
    )


def _write_roads(scene: SampleScene, path: Path) -> None:
    import pyogrio  # lazy: pyogrio loads geopandas

    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_DATE})
    try:
        with atomic_output(path, kind="sample") as tmp:
            pyogrio.write_dataframe(scene.roads, tmp, layer="roads", driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


@dataclass(frozen=True)
class SceneSpec:
    """One scene of the standard sample set."""

    name: str
    role: str  # train | holdout | nodata | multiband
    height: int
    width: int
    seed: int
    bands: str = "rgb"
    nodata_collar: bool = False
    about: str = ""


def _off_grid(n: int) -> int:
    """`n`, nudged so that it is not a multiple of the 256-pixel block size."""
    return n + 4 if n % BLOCK == 0 else n


def sample_specs(size: int = DEFAULT_SIZE, seed: int = 0) -> list[SceneSpec]:
    """The standard set for a training-scene side of `size` pixels."""
    if size < 64:
        raise ValueError(f"size={size}: the sample scenes need at least 64 pixels a side")
    small, tiny = max(64, (size * 2) // 3), max(64, (size * 5) // 12)
    base = 1000 * seed
    specs = [
        SceneSpec(f"train_{k}", "train", size, size, base + k, about="RGB training scene")
        for k in (1, 2, 3)
    ]
    specs += [
        SceneSpec(
            "holdout",
            "holdout",
            _off_grid(round(size * 0.912)),
            _off_grid(round(size * 1.172)),
            base + 11,
            about="RGB held-out scene for evaluation; sides not multiples of 256",
        ),
        SceneSpec(
            "collar",
            "nodata",
            small,
            small,
            base + 21,
            nodata_collar=True,
            about="RGB scene with a rotated nodata collar (nodata = 0 on all bands)",
        ),
        SceneSpec(
            "bgrn16",
            "multiband",
            tiny,
            tiny,
            base + 31,
            bands="bgrn16",
            about="4-band uint16 scene: blue, green, red, near infrared, 11-bit values",
        ),
    ]
    return specs


def make_sample_set(outdir: str | Path, size: int = DEFAULT_SIZE, seed: int = 0) -> list[Path]:
    """Generate and write the standard sample set into `outdir`; return the written files.

    Also writes ``manifest.json`` (scenes, roles, grids, files) and ``README.md``.
    The same `size` and `seed` always give byte-identical files.
    """
    outdir = ensure_writable_dir(outdir)
    readme = outdir / "README.md"
    if readme.is_file() and not readme.read_text(errors="replace").startswith(README_TITLE):
        raise OutputError(
            f"{readme}: a README.md that sample-data did not write is in the way; "
            "choose an empty folder"
        )
    written: list[Path] = []
    entries = []
    with output_set():  # the set appears whole, or the earlier one stays as it was
        for spec in tqdm(
            sample_specs(size, seed), desc="sample scenes", unit="scene", leave=False, disable=None
        ):
            scene = generate_scene(
                spec.height,
                spec.width,
                spec.seed,
                bands=spec.bands,
                nodata_collar=spec.nodata_collar,
            )
            files = write_scene(scene, outdir, spec.name)
            written += files.values()
            entries.append(
                {
                    "name": spec.name,
                    "role": spec.role,
                    "about": spec.about,
                    "height": spec.height,
                    "width": spec.width,
                    "seed": spec.seed,
                    "bands": list(scene.band_names),
                    "dtype": scene.image.dtype.name,
                    "nodata": scene.nodata,
                    "crs": scene.crs,
                    "res_m": scene.res,
                    "origin": [scene.transform.c, scene.transform.f],
                    "road_fraction": round(float(scene.mask.mean()), 4),
                    "road_segments": int(len(scene.roads)),
                    "files": {k: p.name for k, p in files.items()},
                }
            )
            log.debug("wrote %s (%dx%d)", spec.name, spec.height, spec.width)
        manifest = {
            "generator": "geoseg sample-data",
            "command": _command(size, seed),
            "size": size,
            "seed": seed,
            "scenes": entries,
        }
        for name, text in (
            ("manifest.json", json.dumps(manifest, indent=2) + "\n"),
            ("README.md", _readme(manifest)),
        ):
            with atomic_output(outdir / name, kind="sample") as tmp:
                tmp.write_text(text, encoding="utf-8")
            written.append(outdir / name)
    return written


def _command(size: int, seed: int) -> str:
    """The command line that regenerates a set (into a folder named sample_data)."""
    return f"geoseg sample-data sample_data --size {size} --seed {seed}"


def _readme(manifest: dict) -> str:
    """A README describing every file of the set, made from the manifest."""
    lines = [
        README_TITLE,
        "",
        "Synthetic DeepGlobe-like aerial scenes (0.5 m pixels, UTM zone 33N, EPSG:32633) with",
        "exact ground truth, made by geoseg's deterministic generator. Regenerate with:",
        "",
        "```bash",
        manifest["command"],
        "```",
        "",
        "The same size and seed always give byte-identical rasters. Each scene has:",
        "",
        "- `NAME.tif`: the image, tiled 256x256, DEFLATE-compressed, georeferenced;",
        "- `NAME_mask.tif`: road mask on the same grid, uint8, 1 = road (also where tree crowns",
        "  hide the road, as in DeepGlobe), 0 = background or nodata;",
        "- `NAME_roads.gpkg`: road centrelines (layer `roads`, LineString, same CRS) with",
        "  `width_m`, `kind` (primary / secondary / track) and `surface`; buffering each line by",
        "  `width_m / 2` and rasterising reproduces the mask.",
        "",
        "Scenes also contain road look-alikes that are *not* roads: rivers, railways, field",
        "boundaries, plus buildings, fields, forest and tree crowns over road edges.",
        "",
        "| scene | role | size (rows x cols) | bands | what |",
        "|---|---|---|---|---|",
    ]
    for s in manifest["scenes"]:
        lines.append(
            f"| `{s['name']}` | {s['role']} | {s['height']} x {s['width']} | "
            f"{len(s['bands'])} x {s['dtype']} | {s['about']} |"
        )
    lines += ["", "`manifest.json` lists the same in machine-readable form.", ""]
    return "\n".join(lines)
