"""Scene inputs, footprints in a common CRS and AOI selection."""

from __future__ import annotations

import pytest
import rasterio
from shapely.geometry import box

from geoseg.batch.scenes import (
    expand_inputs,
    plan_scenes,
    scene_names,
    transform_geometry,
    utm_crs,
)
from geoseg.errors import ConfigError, GeoSegError
from tests.batch.conftest import X0, Y0, reproject_scene


def test_inputs_from_files_globs_and_lists(area, tmp_path):
    folder = area.scenes[0].parent
    listing = tmp_path / "scenes.txt"
    listing.write_text(f"# my scenes\n{folder / 'c.tif'}\n\narea/../area/scenes/d.tif\n")
    paths = expand_inputs([str(folder / "[ab].tif"), listing, folder / "a.tif"])
    assert [p.name for p in paths] == ["a.tif", "b.tif", "c.tif", "d.tif"]  # a kept once
    assert all(p.is_absolute() and p.is_file() for p in paths)


def test_glob_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="matches no files"):
        expand_inputs([str(tmp_path / "*.tif")])


def test_a_globs_truth_masks_beside_their_scenes_are_left_out(tmp_path, caplog):
    for name in ("a.tif", "a_mask.tif", "b.tif", "b_mask.tif", "lone_mask.tif", "c_mask.png"):
        (tmp_path / name).write_bytes(b"")
    with caplog.at_level("INFO", "geoseg.batch.scenes"):
        paths = expand_inputs([str(tmp_path / "*.tif")])
    # lone_mask.tif has no scene 'lone.tif' beside it: a scene like any other
    assert [p.name for p in paths] == ["a.tif", "b.tif", "lone_mask.tif"]
    assert "2 truth mask(s) beside their scenes left out (a_mask.tif, b_mask.tif)" in caplog.text
    # named directly, or a pattern for the masks themselves: mapped as asked
    named = expand_inputs([tmp_path / "a_mask.tif", str(tmp_path / "[ab]_mask.tif")])
    assert [p.name for p in named] == ["a_mask.tif", "b_mask.tif"]


def test_names_are_unique_and_stable(tmp_path):
    paths = [tmp_path / "x" / "s.tif", tmp_path / "y" / "s.tif", tmp_path / "t.tif"]
    names = scene_names(paths)
    assert len(set(names)) == 3 and names[2] == "t"
    assert names == scene_names(paths) and names[:2] == scene_names(paths[1::-1])[::-1]


def test_footprints_in_the_work_crs_and_aoi_selection(area):
    aoi = box(X0 + 10, Y0 - 150, X0 + 150, Y0 - 10)  # inside scene a only
    plan = plan_scenes(area.scenes, aoi=aoi)
    assert plan.crs == plan.work_crs == "EPSG:32633"
    assert [s.name for s in plan.scenes] == ["a"]
    assert [s.name for s in plan.outside] == ["b", "c", "d"]
    assert plan.scenes[0].footprint.equals(box(X0, Y0 - 200, X0 + 200, Y0))


def test_scene_in_another_crs_gets_its_valid_footprint(area):
    reproject_scene(area, "d", "EPSG:32634")
    plan = plan_scenes(area.scenes)
    d = plan.scenes[3]
    assert d.crs == "EPSG:32634"
    expected = box(X0 + 160, Y0 - 360, X0 + 360, Y0 - 160)
    # warped grid has nodata corners: the footprint follows the valid pixels, not the bounds
    assert d.footprint.symmetric_difference(expected).area < 0.03 * expected.area
    with rasterio.open(area.scenes[3]) as src:
        bounds = transform_geometry(box(*src.bounds), src.crs, plan.work_crs)
    assert bounds.area > 1.01 * d.footprint.area


def test_geographic_scenes_get_a_utm_output_crs(area):
    for name in "abcd":
        reproject_scene(area, name, "EPSG:4326")
    plan = plan_scenes(area.scenes)
    assert plan.crs == plan.work_crs == "EPSG:32633"
    assert utm_crs(-70.5, -33.4).to_epsg() == 32719
    geo = plan_scenes(area.scenes, crs="EPSG:4326")
    assert geo.crs == "EPSG:4326" and geo.work_crs == "EPSG:32633"


def test_unreadable_scenes_are_reported_not_fatal(area, tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00 this is not a tiff")
    plan = plan_scenes([*area.scenes, bad, tmp_path / "missing.tif"])
    assert len(plan.scenes) == 4
    reasons = {name: why for name, _, why in plan.unreadable}
    assert set(reasons) == {"bad", "missing"}
    assert "bad.tif" in reasons["bad"] and "not found" in reasons["missing"]


def test_aoi_intersecting_nothing_is_a_clear_error(area, tmp_path):
    import geopandas as gpd

    far = tmp_path / "far.gpkg"
    gpd.GeoDataFrame(geometry=[box(X0 + 5000, Y0, X0 + 6000, Y0 + 1000)], crs="EPSG:32633").to_file(
        far
    )
    with pytest.raises(GeoSegError, match=r"far\.gpkg: the AOI intersects none of the 4 scenes"):
        plan_scenes(area.scenes, aoi=far)


def test_aoi_file_in_another_crs_is_reprojected(area, tmp_path):
    import geopandas as gpd

    aoi = gpd.GeoDataFrame(
        geometry=[box(X0 + 250, Y0 - 350, X0 + 350, Y0 - 250)], crs="EPSG:32633"
    ).to_crs("EPSG:4326")
    path = tmp_path / "aoi.geojson"
    aoi.to_file(path)
    plan = plan_scenes(area.scenes, aoi=path)
    assert [s.name for s in plan.scenes] == ["d"]
    assert abs(plan.aoi.area - 100 * 100) < 5
