"""The one raster model (io/grid.py, issue 13): one road-mask rule, one same-grid rule and
one no-CRS rule, the same in training, evaluate and vectorize."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from PIL import Image

from geoseg.cli.main import cli
from geoseg.data.sources import ImageTile, RasterScene
from geoseg.errors import BandMismatchError, GridMismatchError, OutputError
from geoseg.evaluate import evaluate_pair
from geoseg.io.grid import (
    QGIS_PIXEL_SPACE,
    Reader,
    array_grid,
    check_same_grid,
    display_transform,
    open_grid,
    open_mask,
    road_rule,
    same_grid,
)
from geoseg.io.vector import read_roads
from geoseg.io.windows import Window
from geoseg.vectorize import vectorize_mask, vectorize_to_file
from geoseg.vectorize.source import mask_block


def roads_64() -> np.ndarray:
    """A horizontal road (rows 28-34) and a vertical one (columns 40-44) on 64×64 px."""
    road = np.zeros((64, 64), bool)
    road[28:35, 4:60] = True
    road[6:58, 40:45] = True
    return road


def soft(road: np.ndarray, top: int = 237) -> np.ndarray:
    """An anti-aliased grey mask of `road` (as ETH's masks): `top` inside, 140 on the
    road's edge pixels (above half of `top`), 60 just outside (below half)."""
    from scipy import ndimage

    inner = ndimage.binary_erosion(road)
    halo = ndimage.binary_dilation(road) & ~road
    out = np.zeros(road.shape, np.uint8)
    out[road], out[road & ~inner], out[halo] = top, 140, 60
    return out


def write_png(path, array: np.ndarray):
    Image.fromarray(array).save(path)
    return path


def train_roads(image, mask) -> list[np.ndarray]:
    """Road pixels as both training sources see them (DeepGlobe tile and raster scene)."""
    tile = ImageTile(image, mask).read(Window(0, 0, 64, 64))[1]
    scene = RasterScene(image, mask=mask).read(Window(0, 0, 64, 64))[1]
    return [tile.astype(bool), scene.astype(bool)]


def vectorize_roads(mask) -> np.ndarray:
    with open_mask(mask) as reader:
        return mask_block(reader, slice(0, 64), slice(0, 64))


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_deepglobe_and_soft_masks_give_the_same_road_in_train_evaluate_and_vectorize(tmp_path):
    road = roads_64()
    image = write_png(tmp_path / "7_sat.png", np.full((64, 64, 3), 90, np.uint8))
    rgb = np.repeat((road * 255).astype(np.uint8)[..., None], 3, axis=-1)
    deepglobe = write_png(tmp_path / "7_mask.png", rgb)  # 3 equal bands, 0/255
    grey = write_png(tmp_path / "soft_mask.png", soft(road))  # 0..237, anti-aliased
    binary = write_png(tmp_path / "binary_mask.png", road.astype(np.uint8))  # 0/1
    assert len(np.unique(soft(road))) == 4
    for mask in (deepglobe, grey, binary):
        for seen in train_roads(image, mask):
            np.testing.assert_array_equal(seen, road)
        np.testing.assert_array_equal(vectorize_roads(mask), road)
    # evaluate: every pair of the three scores as identical, with the road's pixel count
    for pred, truth in ((deepglobe, grey), (grey, binary), (binary, deepglobe)):
        c = evaluate_pair(pred, truth).pixel.confusion
        assert (c.tp, c.fp, c.fn, c.tn) == (road.sum(), 0, 0, road.size - road.sum())
    # and the centrelines of the three masks are the same lines
    lines = [vectorize_mask(m, progress=False) for m in (deepglobe, grey, binary)]
    assert len(lines[0]) >= 3
    for other in lines[1:]:
        assert shapely.equals(lines[0].union_all(), other.union_all())


def test_road_rule_cases():
    def rule(values, **kw):
        return road_rule(Reader(array_grid(np.asarray(values), **kw)))

    assert rule([[0, 1, 1]]).road(np.array([0, 1])).tolist() == [False, True]
    r = rule([[0, 7, 7]])  # {0, max}: binary as it is
    assert not r.soft and r.road(np.array([0, 7])).tolist() == [False, True]
    r = rule([[0, 100, 201, 30]])  # soft: road at >= 100.5
    assert r.soft and r.road(np.array([100, 101, 201])).tolist() == [False, True, True]
    assert not rule([[0, 0]]).road(np.array([0, 0])).any()  # no road at all
    assert rule(np.array([[0.0, 0.2, 0.8]], np.float32)).cut == pytest.approx(0.4)
    # nodata is not a value of the mask: a 0/1 mask with nodata 255 stays binary
    r = rule(np.array([[0, 1, 255]], np.uint8), nodata=255)
    assert r.maximum == 1 and not r.soft


def test_multiband_masks_need_equal_bands(tmp_path, geotiff_factory):
    same = geotiff_factory(np.stack([roads_64().astype(np.uint8) * 255] * 3))
    with open_mask(same) as reader:
        assert reader.raster.bands == (1,) and reader.rule.maximum == 255
    other = np.stack([roads_64().astype(np.uint8) * 255] * 3)
    other[2, 10, 11] = 3
    path = geotiff_factory(other, name="rgb.tif")
    with pytest.raises(BandMismatchError, match=r"rgb.tif: not a road mask \(band 3 differs"):
        with open_mask(path):
            pass


def test_mask_nodata_is_never_road_and_not_its_maximum(geotiff_factory):
    mask = roads_64().astype(np.uint8)
    mask[:, :3] = 200  # nodata
    with open_mask(geotiff_factory(mask, nodata=200)) as reader:
        assert reader.rule.maximum == 1 and not reader.rule.soft
        road = mask_block(reader, slice(0, 64), slice(0, 64))
    np.testing.assert_array_equal(road, roads_64())


def test_one_same_grid_rule(geotiff_factory):
    a = open_grid(geotiff_factory(np.zeros((8, 8), np.uint8)))
    assert same_grid(a, open_grid(geotiff_factory(np.zeros((8, 8), np.uint8))))
    shifted = open_grid(geotiff_factory(np.zeros((8, 8), np.uint8), origin=(500001.0, 4e6)))
    assert not same_grid(a, shifted)
    assert not same_grid(
        a, open_grid(geotiff_factory(np.zeros((8, 8), np.uint8), crs="EPSG:32634"))
    )
    assert not same_grid(a, open_grid(geotiff_factory(np.zeros((8, 9), np.uint8))))
    # without a CRS on one side, pixel for pixel: the size decides
    png_like = open_grid(geotiff_factory(np.zeros((8, 8), np.uint8), crs=None), warn_no_crs=False)
    assert same_grid(a, png_like) and same_grid(png_like, a)
    with pytest.raises(
        GridMismatchError,
        match=r"r6.tif: mask grid \(9x8 px, EPSG:32633.* differs from .*r0.tif \(8x8 px",
    ):
        check_same_grid(a, open_grid(geotiff_factory(np.zeros((8, 9), np.uint8))), "mask")


def horizontal_road_mask() -> np.ndarray:
    """Road pixel rows 28-32 (centre row 30), columns 10-89, on 60×100 px."""
    mask = np.zeros((60, 100), np.uint8)
    mask[28:33, 10:90] = 255
    return mask


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_no_crs_lines_overlay_the_image_as_qgis_draws_it(tmp_path, caplog):
    png = write_png(tmp_path / "road_mask.png", horizontal_road_mask())
    assert display_transform(open_grid(png, warn_no_crs=False)) == QGIS_PIXEL_SPACE
    out = tmp_path / "roads.gpkg"
    with caplog.at_level(logging.WARNING):
        roads = vectorize_to_file(png, out, progress=False)
    assert "no CRS" in caplog.text
    written = read_roads(out)
    assert written.crs is None  # no CRS claimed
    assert "length_px" in written and "width_px" in written and "length_m" not in written
    assert "width_m" not in written
    xy = shapely.get_coordinates(written.geometry.values)
    # QGIS draws pixel (row r, column c) over x in [c, c+1], y in [-(r+1), -r]: the
    # road's centre row 30 is at y = -30.5, its columns 10..89 span x 10..90
    np.testing.assert_allclose(xy[:, 1], -30.5)
    assert xy[:, 0].min() >= 10 and xy[:, 0].max() <= 90 and np.ptp(xy[:, 0]) > 70
    assert written["length_px"].iloc[0] == pytest.approx(np.ptp(xy[:, 0]))
    assert written["width_px"].iloc[0] == pytest.approx(5, abs=1)
    assert len(roads) == 1
    assert 'name="line_width_unit" value="MapUnit"' in out.with_suffix(".qml").read_text()


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_no_crs_geojson_is_refused_in_one_line_naming_the_file(tmp_path):
    png = write_png(tmp_path / "road_mask.png", horizontal_road_mask())
    out = tmp_path / "roads.geojson"
    with pytest.raises(OutputError, match=r"roads.geojson: GeoJSON means WGS84") as err:
        vectorize_to_file(png, out, progress=False)
    assert "\n" not in str(err.value) and not out.exists()
    result = CliRunner().invoke(cli, ["vectorize", str(png), "-o", str(out)])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert str(out) in result.output and "no CRS" in result.output
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))
    # an array without CRS is refused the same way, and a written GeoDataFrame too
    with pytest.raises(OutputError, match="GeoJSON means WGS84"):
        vectorize_to_file(horizontal_road_mask(), out, progress=False)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_no_crs_cli_summary_counts_pixels(tmp_path):
    png = write_png(tmp_path / "road_mask.png", horizontal_road_mask())
    out = tmp_path / "roads.gpkg"
    result = CliRunner().invoke(cli, ["vectorize", str(png), "-o", str(out)])
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    assert summary.endswith(" px of road") and "km" not in summary


def test_no_crs_with_a_geotransform_uses_it_and_counts_pixels(geotiff_factory):
    """A GeoTIFF with a geotransform but no CRS (or a world file) is drawn by QGIS with
    that transform: the lines follow it, lengths stay in pixels, no CRS is claimed."""
    path = geotiff_factory(horizontal_road_mask(), crs=None, res=2.0, origin=(1000.0, 2000.0))
    assert display_transform(open_grid(path, warn_no_crs=False)) == Affine(
        2.0, 0, 1000.0, 0, -2.0, 2000.0
    )
    roads = vectorize_mask(path, progress=False)
    assert roads.crs is None and len(roads) == 1
    xy = shapely.get_coordinates(roads.geometry.values)
    np.testing.assert_allclose(xy[:, 1], 2000.0 - 2 * 30.5)
    assert xy[:, 0].min() >= 1000 + 2 * 10 and xy[:, 0].max() <= 1000 + 2 * 90
    assert roads["length_px"].iloc[0] == pytest.approx(np.ptp(xy[:, 0]) / 2)


def test_georeferenced_lines_keep_metres(geotiff_factory):
    path = geotiff_factory(horizontal_road_mask(), res=0.5)
    roads = vectorize_mask(path, progress=False)
    assert roads.crs.to_epsg() == 32633 and "length_m" in roads and "length_px" not in roads
    xy = shapely.get_coordinates(roads.geometry.values)
    np.testing.assert_allclose(xy[:, 1], 4000000.0 - 0.5 * 30.5)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_real_deepglobe_masks_same_road_in_all_stages(realdata):
    folder = realdata / "deepglobe"
    for mask in sorted(folder.glob("*_mask.png")):
        image = mask.with_name(mask.name.replace("_mask.png", "_sat.jpg"))
        if not image.exists():
            image = image.with_suffix(".png")
        with rasterio.open(mask) as src:
            expected = src.read(1) >= 128  # their published 0/255 reading
        h, w = expected.shape
        tile = ImageTile(image, mask).read(Window(0, 0, w, h))[1].astype(bool)
        np.testing.assert_array_equal(tile, expected)
        with open_mask(mask) as reader:
            np.testing.assert_array_equal(mask_block(reader, slice(0, h), slice(0, w)), expected)
        c = evaluate_pair(mask, mask).pixel.confusion
        assert c.tp == expected.sum() and c.fp == c.fn == 0
