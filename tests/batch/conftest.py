"""A small mapped area for batch tests: 4 overlapping scenes cut from one larger scene.

The area is 360 x 360 px at 1 m (EPSG:32633) with three straight roads (horizontal,
vertical, diagonal) drawn 6 m wide.  Scenes are 200 x 200 windows on a 2 x 2 layout
overlapping by 40 px, so every road crosses at least one overlap and the diagonal
crosses the four-scene corner.  Truth masks live apart from the scenes so an injected
predictor can "predict" them exactly.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import write_geotiff

CRS = "EPSG:32633"
RES = 1.0
X0, Y0 = 500_000.0, 4_000_360.0  # top-left corner of the area
SIZE, WIN, STEP = 360, 200, 160  # area px, scene px, scene offset (overlap 40 px)
ROAD_WIDTH = 6.0


@dataclass
class Area:
    scenes: list[Path]  # a (0,0), b (0,1), c (1,0), d (1,1) in row-major order
    truth_dir: Path
    roads: object  # GeoDataFrame of the true centrelines in CRS
    crs: str = CRS

    def bounds(self):
        return X0, Y0 - SIZE * RES, X0 + SIZE * RES, Y0


def true_lines():
    import geopandas as gpd
    from shapely.geometry import LineString

    def px(c, r):
        return X0 + c * RES, Y0 - r * RES

    lines = [
        LineString([px(0, 100), px(SIZE, 100)]),  # across a|b
        LineString([px(250, 0), px(250, SIZE)]),  # across b|d
        LineString([px(0, SIZE), px(SIZE, 0)]),
    ]  # c -> corner -> b
    return gpd.GeoDataFrame({"name": ["h", "v", "diag"]}, geometry=lines, crs=CRS)


def area_arrays(seed: int = 0):
    """(image (3, H, W) uint8, mask (H, W) uint8) of the whole area."""
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    transform = from_origin(X0, Y0, RES, RES)
    roads = true_lines()
    mask = rasterize(
        [g.buffer(ROAD_WIDTH / 2, cap_style="flat") for g in roads.geometry],
        out_shape=(SIZE, SIZE),
        transform=transform,
        dtype="uint8",
    )
    rng = np.random.default_rng(seed)
    image = (60 + rng.integers(0, 30, (3, SIZE, SIZE))).astype(np.uint8)
    image[:, mask > 0] = (190 + rng.integers(0, 30, (3, int(mask.sum())))).astype(np.uint8)
    return image, mask


def make_area(root: Path) -> Area:
    image, mask = area_arrays()
    scene_dir, truth_dir = root / "scenes", root / "truth"
    scene_dir.mkdir(parents=True)
    truth_dir.mkdir()
    paths = []
    for name, (r, c) in zip("abcd", [(0, 0), (0, STEP), (STEP, 0), (STEP, STEP)]):
        origin = (X0 + c * RES, Y0 - r * RES)
        win = (slice(r, r + WIN), slice(c, c + WIN))
        paths.append(
            write_geotiff(
                scene_dir / f"{name}.tif",
                image[(slice(None), *win)],
                crs=CRS,
                res=RES,
                origin=origin,
            )
        )
        write_geotiff(truth_dir / f"{name}.tif", mask[win], crs=CRS, res=RES, origin=origin)
    return Area(paths, truth_dir, true_lines())


def reproject_scene(area: Area, name: str, dst_crs: str) -> Path:
    """Replace scene `name` (and its truth) by a copy warped into `dst_crs`."""
    import rasterio
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    for folder, resampling, nodata in (
        (area.scenes[0].parent, Resampling.bilinear, 0),
        (area.truth_dir, Resampling.nearest, 255),
    ):
        path = folder / f"{name}.tif"
        with rasterio.open(path) as src:
            transform, w, h = calculate_default_transform(
                src.crs, dst_crs, src.width, src.height, *src.bounds
            )
            profile = src.profile | {
                "crs": dst_crs,
                "transform": transform,
                "width": w,
                "height": h,
                "nodata": nodata,
            }
            data = np.full((src.count, h, w), nodata, dtype=src.dtypes[0])
            reproject(
                src.read(),
                data,
                src_transform=src.transform,
                src_crs=src.crs,
                dst_transform=transform,
                dst_crs=dst_crs,
                dst_nodata=nodata,
                resampling=resampling,
            )
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
    return area.scenes[0].parent / f"{name}.tif"


@pytest.fixture
def area(tmp_path) -> Area:
    return make_area(tmp_path / "area")


def truth_predictor(truth_dir: Path, fail: dict | None = None):
    """A predictor returning the truth mask of each scene (written like predict does:
    uint8 0/1 with an internal mask for nodata).  `fail` maps a call number (1-based)
    to an exception raised instead."""
    import rasterio

    from geoseg.io.files import atomic_output

    calls = {"n": 0}

    def predict(scene, scene_dir: Path):
        calls["n"] += 1
        if fail and calls["n"] in fail:
            raise fail[calls["n"]]
        with rasterio.open(scene.path) as src:
            src.read()  # a corrupt scene fails here, as real prediction would
        out = scene_dir / f"{Path(scene.path).stem}_mask.tif"
        with rasterio.open(truth_dir / Path(scene.path).name) as src:
            data = src.read(1)
            valid = data != 255 if src.nodata == 255 else np.ones_like(data, bool)
            profile = src.profile | {
                "nodata": None,
                "tiled": True,
                "blockxsize": 64,
                "blockysize": 64,
            }
        with atomic_output(out) as tmp:
            with (
                rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True),
                rasterio.open(tmp, "w", **profile) as dst,
            ):
                dst.write(np.where(valid, data, 0).astype(np.uint8), 1)
                dst.write_mask(np.where(valid, 255, 0).astype(np.uint8))
        return out, None

    predict.calls = calls
    return predict


def copy_area(area: Area, dst: Path) -> Area:
    shutil.copytree(area.scenes[0].parent.parent, dst)
    return Area([dst / "scenes" / p.name for p in area.scenes], dst / "truth", area.roads)


def line_vectorizer(lines):
    """A vectorizer returning the true centrelines inside the mask's valid pixels, in
    the mask's CRS: exact per-scene lines, duplicated wherever scenes overlap."""
    import geopandas as gpd
    import rasterio
    import shapely

    from geoseg.batch.scenes import grid_footprint, valid_footprint

    def vectorize(mask_path, prob):
        with rasterio.open(mask_path) as src:
            crs, tr, w, h = src.crs, src.transform, src.width, src.height
        valid = valid_footprint(Path(mask_path), tr, w, h) or grid_footprint(tr, w, h)
        geoms = shapely.get_parts(lines.to_crs(crs).geometry.values.intersection(valid))
        geoms = [g for g in geoms if g.geom_type == "LineString" and g.length > 0]
        return gpd.GeoDataFrame(
            {
                "length_m": [g.length for g in geoms],
                "width_m": [ROAD_WIDTH] * len(geoms),
                "mean_prob": [1.0] * len(geoms),
            },
            geometry=geoms,
            crs=crs,
        )

    return vectorize


def read_layer(path):
    from geoseg.io.vector import read_roads

    return read_roads(path, layer="roads")
