"""Shared fixtures: tiny seeded rasters with a real CRS and transform, built in code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def realdata() -> Path:
    """../shared/realdata, or skip the test when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present")
    return REALDATA


def write_geotiff(path: Path, array: np.ndarray, crs="EPSG:32633", res=0.5,
                  origin=(500000.0, 4000000.0), nodata=None) -> Path:
    """Write (bands, rows, cols) or (rows, cols) `array` as a tiled GeoTIFF."""
    import rasterio
    from rasterio.transform import from_origin

    if array.ndim == 2:
        array = array[None]
    profile = {
        "driver": "GTiff",
        "width": array.shape[2],
        "height": array.shape[1],
        "count": array.shape[0],
        "dtype": array.dtype.name,
        "crs": crs,
        "transform": from_origin(origin[0], origin[1], res, res),
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
    return path


@pytest.fixture
def geotiff_factory(tmp_path):
    """Call with an array (and optional crs/res/nodata) to get a GeoTIFF path."""
    counter = iter(range(10_000))

    def make(array: np.ndarray, name: str | None = None, **kw) -> Path:
        return write_geotiff(tmp_path / (name or f"r{next(counter)}.tif"), array, **kw)

    return make


def easy_road_scene(size: int = 256, seed: int = 0, road_px: int = 6):
    """(image (3,H,W) uint8, mask (H,W) uint8): grey straight roads on textured ground."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(3):
        for axis in (0, 1):
            at = int(rng.integers(road_px, size - road_px))
            sl = slice(at - road_px // 2, at + road_px // 2)
            if axis == 0:
                mask[sl, :] = 1
            else:
                mask[:, sl] = 1
    ground = np.stack([rng.normal(m, 18, (size, size)) for m in (70, 110, 60)])
    road = np.stack([rng.normal(m, 10, (size, size)) for m in (190, 185, 180)])
    image = np.where(mask[None] == 1, road, ground)
    return np.clip(image, 0, 255).astype(np.uint8), mask


@pytest.fixture
def road_scenes(tmp_path):
    """Call with n -> list of (scene.tif, mask.tif) paths of easy road scenes (UTM 33N)."""

    def make(n: int = 2, size: int = 256, seed: int = 0) -> list[tuple[Path, Path]]:
        out = []
        for i in range(n):
            image, mask = easy_road_scene(size, seed + i)
            img = write_geotiff(tmp_path / f"scene{seed + i}.tif", image)
            msk = write_geotiff(tmp_path / f"scene{seed + i}_mask.tif", mask)
            out.append((img, msk))
        return out

    return make


@pytest.fixture
def easy_config(road_scenes):
    """Call with section overrides -> RunConfig training on 3 easy scenes (256 px, tile 64)."""
    from geoseg.config import config_from_dict

    def make(model=None, data=None, train=None, size=256):
        pairs = road_scenes(3, size=size)
        cfg = {
            "model": {"arch": "linknet", "backbone": "resnet18", **(model or {})},
            "data": {"scenes": [str(s) for s, _ in pairs], "masks": [str(m) for _, m in pairs],
                     "tile": 64, "batch_size": 8, "samples_per_epoch": 32, **(data or {})},
            "train": {"epochs": 5, "lr": 1e-3, "schedule": "cosine", **(train or {})},
        }
        return config_from_dict(cfg, "test")

    return make
