"""Undefined scores are said to be undefined, never silently 0 or 1: two empty road
networks (APLS), a truth without road (recall), a truth mask whose nodata value is its
non-road value (nothing left to score as "not road")."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from helpers import write_geotiff
from shapely.geometry import LineString
from tiny_configs import write_tiny_configs

from geoseg.compare.records import Comparison, ModelRun
from geoseg.compare.split import DataSplit, Sample
from geoseg.compare.table import markdown, rows
from geoseg.config import load_config
from geoseg.errors import DataError
from geoseg.evaluate import evaluate_pair, evaluate_pairs, format_table
from geoseg.metrics.apls import NoRoadToScore

X0, Y0 = 500000.0, 4000000.0
CRS = "EPSG:32633"


def lines(path: Path, geoms) -> Path:
    gpd.GeoDataFrame(geometry=list(geoms), crs=CRS).to_file(path, layer="roads")
    return path


def ladder(dx=0.0):
    return [LineString([(X0 + dx, Y0 - y), (X0 + 300 + dx, Y0 - y)]) for y in (0, 100)] + [
        LineString([(X0 + x + dx, Y0), (X0 + x + dx, Y0 - 100)]) for x in (0, 150, 300)
    ]


@pytest.fixture
def graph_pairs(tmp_path):
    a = (lines(tmp_path / "a_pred.gpkg", ladder(2)), lines(tmp_path / "a_roads.gpkg", ladder()))
    b = (lines(tmp_path / "b_pred.gpkg", []), lines(tmp_path / "b_roads.gpkg", []))
    return [a, b]


def test_two_empty_networks_leave_apls_undefined_not_the_whole_run(graph_pairs, caplog):
    with pytest.raises(NoRoadToScore, match=r"b_pred\.gpkg vs .*b_roads\.gpkg: both road"):
        evaluate_pair(*graph_pairs[1])  # one pair alone: nothing to score is an error
    with caplog.at_level(logging.WARNING, "geoseg.evaluate"):
        report = evaluate_pairs(graph_pairs)
    a = evaluate_pair(*graph_pairs[0]).scores["apls"]
    assert 0.5 < a < 1
    b = report.pairs[1]
    assert b.undefined and "no road" in b.undefined and b.scores["apls"] is None
    summary = report.summary()["apls"]
    assert (summary["pairs"], summary["scored"]) == (2, 1)
    assert summary["mean"]["apls"] == pytest.approx(a)  # b is not counted as 0 or 1
    assert "APLS undefined" in caplog.text
    table = format_table(report)
    b_row = next(line for line in table.splitlines() if line.startswith("b "))
    assert "–" in b_row and "0.00" not in b_row and "100.00" not in b_row
    assert "APLS mean over 1 of 2 pairs" in table


def test_compare_table_says_over_how_many_images_apls_was_averaged(graph_pairs, tmp_path):
    config = load_config(write_tiny_configs(tmp_path, archs=("linknet",))[0])
    samples = tuple(Sample(n, tmp_path / f"{n}.tif", tmp_path / f"{n}_mask.tif") for n in "ab")
    split = DataSplit(tmp_path, "scenes", (), samples, "given")
    run = ModelRun("linknet_tiny", tmp_path / "linknet_tiny.yaml", config, tmp_path / "m.pt", False)
    run.report = evaluate_pairs(graph_pairs)
    comparison = Comparison(split, [run], {"a": "centrelines", "b": "centrelines"}, tmp_path)
    row = rows(comparison)[0]
    assert row["apls_images"] == 1 and row["held_out_images"] == 2
    assert math.isclose(row["apls"], run.report.pairs[0].scores["apls"])
    text = markdown(comparison)
    assert "linknet_tiny over 1 of 2 held-out image(s) (b: APLS undefined" in text


def road_band(value=1):
    m = np.zeros((64, 64), np.uint8)
    m[10:14] = value
    return m


def test_truth_mask_with_nodata_at_its_non_road_value_is_refused(tmp_path):
    pred = write_geotiff(tmp_path / "pred.tif", road_band())
    for value in (1, 255):  # 0/1 and 0/255 masks alike
        truth = write_geotiff(tmp_path / f"truth_{value}.tif", road_band(value), nodata=0)
        with pytest.raises(
            DataError,
            match=rf"truth_{value}\.tif: nodata is 0, the truth mask's non-road value, so no "
            r"non-road pixel is left to score \(unset it: gdal_edit\.py -unsetnodata",
        ):
            evaluate_pair(pred, truth)
    # nodata outside the mask's values is fine: every non-road pixel is still scored
    ok = write_geotiff(tmp_path / "truth_ok.tif", road_band(255), nodata=7)
    assert evaluate_pair(pred, ok).pixel.confusion.total == 64 * 64


def test_undefined_recall_and_precision_are_said_so(tmp_path, caplog):
    empty = write_geotiff(tmp_path / "empty.tif", np.zeros((64, 64), np.uint8))
    roads = write_geotiff(tmp_path / "roads.tif", road_band())
    with caplog.at_level(logging.INFO, "geoseg.evaluate"):
        r = evaluate_pair(roads, empty)  # roads predicted, none in the truth
    assert r.scores["recall"] == 1.0  # zero_division=1, documented; and said to be undefined
    assert "recall is undefined (no road in" in caplog.text and "empty.tif" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, "geoseg.evaluate"):
        r = evaluate_pair(empty, roads)  # no road predicted where the truth has some
    assert r.scores["precision"] == 1.0 and r.scores["recall"] == 0.0
    assert "precision is undefined (no road predicted in" in caplog.text
