"""write_scene / make_sample_set: file formats, reproducibility, and the committed set."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from geoseg.sample_data import generate_scene, make_sample_set, sample_specs, write_scene

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "sample_data"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    scene = generate_scene(300, 280, seed=4, nodata_collar=True)
    return scene, write_scene(scene, tmp_path_factory.mktemp("w"), "s")


def test_geotiffs_are_georeferenced_tiled_and_compressed(written):
    scene, paths = written
    assert {p.name for p in paths.values()} == {"s.tif", "s_mask.tif", "s_roads.gpkg"}
    for key in ("image", "mask"):
        with rasterio.open(paths[key]) as src:
            assert src.crs.to_epsg() == 32633
            assert src.transform == scene.transform and src.res == (0.5, 0.5)
            assert (src.height, src.width) == (300, 280)
            assert src.profile["tiled"] and src.block_shapes[0] == (256, 256)
            assert src.compression.name == "deflate"
            assert src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "2"
            data = src.read()
            if key == "image":
                assert src.nodata == 0 and src.dtypes[0] == "uint8" and src.count == 3
                assert np.array_equal(data, scene.image)
                assert src.descriptions == ("red", "green", "blue")
            else:
                assert src.nodata is None and np.array_equal(data[0], scene.mask)
    leftovers = [p for p in paths["image"].parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_centrelines_geopackage(written):
    scene, paths = written
    roads = gpd.read_file(paths["roads"], layer="roads")
    assert roads.crs.to_epsg() == 32633
    assert list(roads.columns) == ["width_m", "kind", "surface", "geometry"]
    assert roads.geometry.geom_equals_exact(scene.roads.geometry, 1e-6).all()
    assert np.array_equal(roads["width_m"], scene.roads["width_m"])


def test_multiband_file(tmp_path):
    scene = generate_scene(96, 112, seed=3, bands="bgrn16")
    paths = write_scene(scene, tmp_path, "m")
    with rasterio.open(paths["image"]) as src:
        assert src.count == 4 and src.dtypes == ("uint16",) * 4
        assert src.descriptions == ("blue", "green", "red", "nir")
        assert np.array_equal(src.read(), scene.image)


def test_sample_set_is_reproducible_and_seed_dependent(tmp_path):
    a = make_sample_set(tmp_path / "a", size=96, seed=1)
    b = make_sample_set(tmp_path / "b", size=96, seed=1)
    c = make_sample_set(tmp_path / "c", size=96, seed=2)
    assert [p.name for p in a] == [p.name for p in b] == [p.name for p in c]
    for pa, pb, pc in zip(a, b, c):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
        if pa.suffix == ".tif":
            assert pa.read_bytes() != pc.read_bytes(), pa.name
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    roles = {s["role"] for s in manifest["scenes"]}
    assert roles == {"train", "holdout", "nodata", "multiband"}


def test_specs_include_a_scene_off_the_256_grid():
    for size in (96, 256, 512, 768, 1024):
        specs = sample_specs(size)
        assert any(s.height % 256 and s.width % 256 for s in specs)
        assert sum(s.role == "train" for s in specs) == 3
    with pytest.raises(ValueError):
        sample_specs(10)


def _same_raster(a: Path, b: Path) -> None:
    with rasterio.open(a) as x, rasterio.open(b) as y:
        assert x.profile == y.profile, a.name
        assert x.tags() == y.tags() and x.descriptions == y.descriptions
        assert np.array_equal(x.read(), y.read()), a.name


def test_committed_sample_data_matches_the_generator(tmp_path):
    """sample_data/ must be exactly what `geoseg sample-data` makes now (no drift)."""
    manifest = json.loads((COMMITTED / "manifest.json").read_text())
    fresh = tmp_path / "sample_data"
    written = make_sample_set(fresh, size=manifest["size"], seed=manifest["seed"])
    committed = sorted(p.name for p in COMMITTED.iterdir() if not p.name.startswith("."))
    assert sorted(p.name for p in written) == committed
    for path in written:
        old = COMMITTED / path.name
        if path.read_bytes() == old.read_bytes():
            continue
        # a different zlib/SQLite build may encode the same content differently
        if path.suffix == ".tif":
            _same_raster(path, old)
        elif path.suffix == ".gpkg":
            new_df, old_df = gpd.read_file(path), gpd.read_file(old)
            assert new_df.equals(old_df), path.name
        else:
            pytest.fail(f"{path.name} differs from the committed copy")
    total = sum(p.stat().st_size for p in COMMITTED.iterdir())
    assert total < 5_000_000
    sides = [(s["height"], s["width"]) for s in manifest["scenes"]]
    assert any(h % 256 and w % 256 for h, w in sides)


def test_docs_preview_matches_the_generator(tmp_path):
    """docs/sample_preview.png is preview() of the train_2 scene, as docs/sample_data.md says."""
    from PIL import Image

    from geoseg.sample_data import preview

    spec = next(s for s in sample_specs() if s.name == "train_2")
    path = preview(generate_scene(spec.height, spec.width, spec.seed), tmp_path / "p.png")
    fresh = np.asarray(Image.open(path))
    assert fresh.shape == (640, 1280, 3)
    assert np.array_equal(fresh, np.asarray(Image.open(REPO / "docs" / "sample_preview.png")))
