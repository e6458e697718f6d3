"""`geoseg evaluate` on small GeoTIFFs and GeoPackages."""

import csv
import json

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString

from geoseg.cli.main import cli

X0, Y0 = 500000.0, 4000000.0


def mask(rows, shape=(48, 48)):
    m = np.zeros(shape, np.uint8)
    m[rows, :] = 1
    return m


def run(*args):
    return CliRunner().invoke(cli, ["evaluate", *map(str, args)])


def test_two_rasters_table_json_and_csv(geotiff_factory, tmp_path):
    pred = geotiff_factory(mask(slice(10, 14)) * 255, "scene_pred.tif")
    truth = geotiff_factory(mask(slice(12, 14)), "scene_mask.tif")
    result = run(pred, truth, "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv")
    assert result.exit_code == 0, result.output
    assert "scene" in result.output and "50.00" in result.output  # IoU 2/4 rows
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["pairs"][0]["iou"] == pytest.approx(0.5)
    assert data["pairs"][0]["relaxed_precision"] == 1.0
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert rows[0]["name"] == "scene" and float(rows[0]["recall"]) == 1.0


def test_folders_and_pairs_csv(geotiff_factory, tmp_path):
    (tmp_path / "pred").mkdir(), (tmp_path / "truth").mkdir()
    for name, rows in (("a", slice(0, 4)), ("b", slice(0, 8))):
        np_pred = mask(slice(0, 4))
        geotiff_factory(np_pred, f"pred/{name}_pred.tif")
        geotiff_factory(mask(rows), f"truth/{name}_mask.tif")
    result = run(tmp_path / "pred", tmp_path / "truth", "--json", tmp_path / "f.json")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "f.json").read_text())["summary"]["pixel"]
    assert summary["images"] == 2
    assert summary["accumulated"]["iou"] == pytest.approx(8 / 12)
    assert summary["mean"]["iou"] == pytest.approx(0.75)

    listing = tmp_path / "pairs.csv"
    listing.write_text("pred,truth\npred/a_pred.tif,truth/a_mask.tif\n")
    result = run("--pairs", listing)
    assert result.exit_code == 0, result.output
    assert "100.00" in result.output


def test_vector_layers_give_apls(tmp_path):
    lines = [
        LineString([(X0, Y0), (X0 + 100, Y0), (X0 + 200, Y0)]),
        LineString([(X0 + 100, Y0), (X0 + 100, Y0 + 150)]),
    ]
    gpd.GeoDataFrame(geometry=lines, crs="EPSG:32633").to_file(tmp_path / "t.gpkg")
    gpd.GeoDataFrame(geometry=lines[:1], crs="EPSG:32633").to_file(tmp_path / "p.gpkg")
    result = run(tmp_path / "p.gpkg", tmp_path / "t.gpkg", "--json", tmp_path / "a.json")
    assert result.exit_code == 0, result.output
    assert "apls" in result.output and "junction_f1" in result.output
    pair = json.loads((tmp_path / "a.json").read_text())["pairs"][0]
    assert pair["apls_prop_to_gt"] == 1.0 and pair["apls_gt_to_prop"] < 0.7


def test_bad_inputs_exit_1_with_one_line(geotiff_factory, tmp_path):
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"garbage")
    good = geotiff_factory(mask(slice(1, 2)))
    result = run(junk, good, "--json", tmp_path / "never.json")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "junk.tif" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "never.json").exists()
    bad_csv = tmp_path / "pairs.csv"
    bad_csv.write_text("a,b\n1,2\n")
    result = run("--pairs", bad_csv)
    assert result.exit_code == 1 and "pred,truth" in result.output


def test_usage_errors(geotiff_factory, tmp_path):
    assert run().exit_code == 2
    assert run(geotiff_factory(mask(slice(1, 2))), tmp_path).exit_code == 2


def test_cli_defaults_are_the_library_defaults():
    from geoseg.cli.evaluate import evaluate
    from geoseg.evaluate import EvalOptions

    defaults = {p.name: p.default for p in evaluate.params}
    lib = EvalOptions()
    assert (
        defaults["rho"],
        defaults["width_m"],
        defaults["snap_m"],
        defaults["spacing_m"],
        defaults["junction_radius_m"],
        defaults["block"],
    ) == (
        lib.rho,
        lib.default_width_m,
        lib.snap_m,
        lib.control_spacing_m,
        lib.junction_radius_m,
        lib.block,
    )


def test_no_overlap_exits_1_naming_both_files(geotiff_factory, tmp_path):
    truth = geotiff_factory(mask(slice(10, 14)), "t_mask.tif")
    far = geotiff_factory(
        mask(slice(10, 14)).astype(np.float32), "t_pred.tif", origin=(X0 + 1000, Y0)
    )
    result = run(far, truth, "--json", tmp_path / "r.json")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "t_pred.tif and " in result.output
    assert "t_mask.tif do not overlap" in result.output
    assert not (tmp_path / "r.json").exists()


def test_one_point_line_truth_exits_1_with_one_line(geotiff_factory, tmp_path):
    one = tmp_path / "one.geojson"
    one.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", '
        '"properties": {}, "geometry": {"type": "LineString", "coordinates": '
        "[[500001, 3999990]]}}]}"
    )
    result = run(geotiff_factory(mask(slice(1, 2))), one)
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "one.geojson: feature 0" in result.output
