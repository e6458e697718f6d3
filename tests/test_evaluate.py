"""geoseg.evaluate: rasters on one or two grids, vector truth, vector pairs, reports."""

import csv
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from geoseg.errors import DataError, GridMismatchError, RasterReadError, VectorReadError
from geoseg.evaluate import (
    EvalOptions,
    evaluate_pair,
    evaluate_pairs,
    format_table,
    match_key,
    pairs_from_csv,
    pairs_from_folders,
    write_csv,
    write_json,
)
from geoseg.metrics.pixel import Confusion, score_masks

X0, Y0 = 500000.0, 4000000.0  # conftest's default origin (EPSG:32633, 0.5 m pixels)


def band(rows, shape=(64, 64), dtype=np.uint8, value=1):
    m = np.zeros(shape, dtype)
    m[rows, :] = value
    return m


def test_raster_pair_matches_in_memory_scores(geotiff_factory):
    truth, pred = band(slice(10, 14)), band(slice(12, 17))
    r = evaluate_pair(geotiff_factory(pred), geotiff_factory(truth), EvalOptions(block=16))
    assert r.kind == "pixel"
    assert r.pixel == score_masks(pred, truth, rho=3)
    assert r.scores["iou"] == pytest.approx(2 / 7)  # rows 12-13 of rows 10-16
    assert r.scores["relaxed_f1"] == 1.0


def test_0_255_prediction_and_nodata(geotiff_factory):
    truth = band(slice(10, 14))
    pred = band(slice(12, 17), value=255)
    pred[:, :32][pred[:, :32] == 0] = 7  # nodata on the left half (outside the road)
    pred[20:, :32] = 7
    r = evaluate_pair(geotiff_factory(pred, nodata=7), geotiff_factory(truth))
    valid = pred != 7
    expected = score_masks(pred == 255, truth, valid)
    assert r.pixel == expected
    assert r.pixel.confusion.total == valid.sum() < 64 * 64


def test_probability_rasters_and_thresholds(geotiff_factory):
    truth = band(slice(10, 14))
    prob = np.zeros((64, 64), np.float32)
    prob[10:14] = 0.9
    prob[14:18] = 0.4
    path = geotiff_factory(prob)
    assert evaluate_pair(path, geotiff_factory(truth)).scores["iou"] == 1.0  # default 0.5
    low = evaluate_pair(path, geotiff_factory(truth), EvalOptions(threshold=0.3))
    assert low.scores["iou"] == pytest.approx(0.5)
    as_uint8 = (prob * 255).round().astype(np.uint8)  # 230 and 102
    u8 = evaluate_pair(
        geotiff_factory(as_uint8), geotiff_factory(truth), EvalOptions(threshold=0.3)
    )
    assert u8.scores["iou"] == pytest.approx(0.5)


def test_prediction_on_a_finer_grid_is_warped_onto_the_truth_grid(geotiff_factory):
    truth = band(slice(10, 14), shape=(32, 32))
    fine = np.kron(truth, np.ones((2, 2), np.uint8))  # 0.25 m pixels, same extent
    r = evaluate_pair(geotiff_factory(fine, res=0.25), geotiff_factory(truth))
    assert r.pixel.confusion == Confusion(tp=4 * 32, fp=0, fn=0, tn=28 * 32)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # writing it
def test_png_prediction_of_the_truth_size_is_taken_pixel_for_pixel(tmp_path, geotiff_factory):
    import rasterio

    pred = band(slice(10, 14), shape=(32, 32)) * 255
    with rasterio.open(
        tmp_path / "p.png", "w", driver="PNG", width=32, height=32, count=1, dtype="uint8"
    ) as dst:
        dst.write(pred[None])
    r = evaluate_pair(tmp_path / "p.png", geotiff_factory(band(slice(10, 12), shape=(32, 32))))
    assert r.scores["iou"] == pytest.approx(0.5)


def test_prediction_covering_part_of_the_truth_scores_only_its_extent(geotiff_factory):
    truth = band(slice(10, 14), shape=(32, 32))
    left = truth[:, :16].copy()
    r = evaluate_pair(geotiff_factory(left), geotiff_factory(truth))
    assert r.pixel.confusion == Confusion(tp=4 * 16, fp=0, fn=0, tn=28 * 16)


def write_lines(path, lines, crs="EPSG:32633", **columns):
    gpd.GeoDataFrame(columns, geometry=lines, crs=crs).to_file(path)
    return path


def test_vector_truth_is_rasterized_with_its_width_in_metres(tmp_path, geotiff_factory):
    # a road along the boundary between rows 9 and 10 (0.5 m pixels)
    y = Y0 - 10 * 0.5
    line = LineString([(X0, y), (X0 + 32, y)])
    pred = geotiff_factory(band(slice(9, 11)))  # two rows = 1 m
    thin = write_lines(tmp_path / "thin.gpkg", [line], width_m=[1.0])
    assert evaluate_pair(pred, thin).scores["iou"] == 1.0
    wide = write_lines(tmp_path / "wide.gpkg", [line], width_m=[2.0])  # rows 8-11
    assert evaluate_pair(pred, wide).scores["iou"] == pytest.approx(0.5)
    default = write_lines(tmp_path / "nowidth.geojson", [line])
    r = evaluate_pair(pred, default, EvalOptions(default_width_m=1.0))
    assert r.scores["iou"] == 1.0
    # the same road given in degrees is projected, buffered in metres, and lands the same
    deg = write_lines(
        tmp_path / "deg.geojson",
        list(gpd.GeoSeries([line], crs="EPSG:32633").to_crs(4326)),
        crs="EPSG:4326",
        width_m=[1.0],
    )
    assert evaluate_pair(pred, deg).scores["iou"] == 1.0


def test_geographic_raster_with_vector_truth_width_in_metres(tmp_path, geotiff_factory):
    res = 9e-6  # ~1 m at the equator
    pred = geotiff_factory(
        np.zeros((40, 40), np.uint8), crs="EPSG:4326", res=res, origin=(10.0, 0.0)
    )
    y = -20 * res
    road = write_lines(
        tmp_path / "r.geojson",
        [LineString([(10.0, y), (10.0 + 40 * res, y)])],
        crs="EPSG:4326",
        width_m=[6.0],
    )
    r = evaluate_pair(pred, road)
    rows = r.pixel.confusion.fn / 40  # every truth pixel is missed by an empty prediction
    assert rows == pytest.approx(6.0 / (res * 111320), abs=1)


def test_vector_prediction_on_a_raster_truth(tmp_path, geotiff_factory):
    y = Y0 - 10 * 0.5
    pred = write_lines(tmp_path / "p.gpkg", [LineString([(X0, y), (X0 + 32, y)])], width_m=[1.0])
    truth = geotiff_factory(band(slice(9, 11)))
    assert evaluate_pair(pred, truth).scores["iou"] == 1.0


def test_vector_truth_without_crs_takes_the_raster_crs(tmp_path, geotiff_factory, caplog):
    y = Y0 - 10 * 0.5
    with pytest.warns(UserWarning, match="crs"):  # pyogrio warns when writing no CRS
        road = write_lines(
            tmp_path / "r.gpkg", [LineString([(X0, y), (X0 + 32, y)])], crs=None, width_m=[1.0]
        )
    assert evaluate_pair(geotiff_factory(band(slice(9, 11))), road).scores["iou"] == 1.0
    assert "no CRS" in caplog.text


def test_empty_vector_truth(tmp_path, geotiff_factory):
    empty = tmp_path / "none.gpkg"
    gpd.GeoDataFrame(geometry=[], crs="EPSG:32633").to_file(empty)
    r = evaluate_pair(geotiff_factory(band(slice(9, 11))), empty)
    assert (r.scores["iou"], r.scores["precision"], r.scores["recall"]) == (0.0, 0.0, 1.0)
    assert evaluate_pair(geotiff_factory(np.zeros((8, 8), np.uint8)), empty).scores["iou"] == 1.0


def test_real_mask_warped_to_utm_scores_close_to_one(realdata, tmp_path):
    import rasterio
    from rasterio.warp import calculate_default_transform, reproject

    truth = realdata / "spacenet_vegas_pan" / "vegas_pan_roads_mask.tif"
    with rasterio.open(truth) as src:
        tr, w, h = calculate_default_transform(
            src.crs, "EPSG:32611", src.width, src.height, *src.bounds, resolution=0.3
        )
        out = np.zeros((h, w), np.uint8)
        reproject(
            src.read(1),
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=tr,
            dst_crs="EPSG:32611",
        )
        profile = dict(
            driver="GTiff",
            width=w,
            height=h,
            count=1,
            dtype="uint8",
            crs="EPSG:32611",
            transform=tr,
        )
    with rasterio.open(tmp_path / "utm_pred.tif", "w", **profile) as dst:
        dst.write(out[None])
    r = evaluate_pair(tmp_path / "utm_pred.tif", truth, EvalOptions(block=512))
    assert r.scores["iou"] > 0.8 and r.scores["relaxed_f1"] > 0.99
    assert r.pixel.confusion.total > 0.95 * 1300 * 1300


def test_vector_pair_gives_apls(tmp_path):
    lines = [
        LineString([(X0, Y0), (X0 + 100, Y0), (X0 + 200, Y0)]),
        LineString([(X0 + 100, Y0), (X0 + 100, Y0 + 150)]),
    ]
    t = write_lines(tmp_path / "t.gpkg", lines)
    r = evaluate_pair(write_lines(tmp_path / "p.geojson", lines[:1]), t)
    assert r.kind == "apls"
    assert 0 < r.scores["apls"] < 1 and r.scores["apls_prop_to_gt"] > r.scores["apls_gt_to_prop"]
    assert evaluate_pair(t, t).scores["apls"] == 1.0


def test_report_accumulated_versus_mean(geotiff_factory, tmp_path):
    t1, p1 = band(slice(0, 2), (8, 8)), band(slice(0, 1), (8, 8))  # IoU 0.5
    t2, p2 = band(slice(0, 8), (8, 8)), band(slice(0, 8), (8, 8))  # IoU 1.0
    pairs = [
        (geotiff_factory(p1, "a_pred.tif"), geotiff_factory(t1, "a_mask.tif")),
        (geotiff_factory(p2, "b_pred.tif"), geotiff_factory(t2, "b_mask.tif")),
    ]
    report = evaluate_pairs(pairs)
    s = report.summary()["pixel"]
    assert s["accumulated"]["iou"] == pytest.approx(72 / 80)
    assert s["mean"]["iou"] == pytest.approx(0.75)
    assert [p.name for p in report.pairs] == ["a", "b"]
    table = format_table(report)
    assert "ALL (accumulated)" in table and "90.00" in table and "75.00" in table

    write_json(report, tmp_path / "out" / "r.json")
    data = json.loads((tmp_path / "out" / "r.json").read_text())
    assert data["summary"]["pixel"]["mean"]["iou"] == pytest.approx(0.75)
    assert data["pairs"][0]["tp"] == 8
    write_csv(report, tmp_path / "r.csv")
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [r["name"] for r in rows] == ["a", "b", "ALL (accumulated)", "ALL (mean of images)"]
    assert float(rows[2]["iou"]) == pytest.approx(0.9)
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize(
    "name,key",
    [
        ("a_pred.tif", "a"),
        ("a_mask.tif", "a"),
        ("img7_roads_mask.tif", "img7"),
        ("x-gt.geojson", "x"),
        ("mask.tif", "mask"),
        ("a.b_pred.tif", "a"),
    ],
)
def test_match_key(name, key, tmp_path):
    assert match_key(tmp_path / name) == key


def test_pairs_from_folders(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "t").mkdir()
    for name in ("a_pred.tif", "b.tif", "c_pred.tif", "notes.txt"):
        (tmp_path / "p" / name).touch()
    for name in ("a_mask.tif", "b_roads.geojson", "d_mask.tif"):
        (tmp_path / "t" / name).touch()
    pairs = pairs_from_folders(tmp_path / "p", tmp_path / "t")
    assert [(p.name, t.name) for p, t in pairs] == [
        ("a_pred.tif", "a_mask.tif"),
        ("b.tif", "b_roads.geojson"),
    ]
    (tmp_path / "p" / "a.tif").touch()
    with pytest.raises(DataError, match="both match 'a'"):
        pairs_from_folders(tmp_path / "p", tmp_path / "t")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no file matches"):
        pairs_from_folders(tmp_path / "t", tmp_path / "empty")


def test_pairs_from_csv(tmp_path):
    f = tmp_path / "pairs.csv"
    f.write_text("pred,truth\nx/a.tif,/abs/b.tif\n")
    assert pairs_from_csv(f) == [(tmp_path / "x" / "a.tif", Path("/abs/b.tif"))]
    f.write_text("prediction,label\na,b\n")
    with pytest.raises(DataError, match="pred,truth"):
        pairs_from_csv(f)


def test_bad_inputs_raise_one_sentence_errors(tmp_path, geotiff_factory):
    good = geotiff_factory(band(slice(1, 3)))
    with pytest.raises(RasterReadError, match="not found"):
        evaluate_pair(tmp_path / "missing.tif", good)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a tiff at all")
    with pytest.raises(RasterReadError, match="junk.tif: not a raster GDAL can read"):
        evaluate_pair(junk, good)
    full = geotiff_factory(band(slice(1, 3), (256, 256)), "full.tif")
    cut = tmp_path / "cut.tif"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    with pytest.raises(RasterReadError, match="cut.tif: cannot read its pixels"):
        evaluate_pair(cut, full)
    with pytest.raises(RasterReadError, match="unknown file type"):
        evaluate_pair(tmp_path / "a.xyz", good)
    small = geotiff_factory(band(slice(1, 3), (32, 32)), crs=None)
    with pytest.raises(GridMismatchError, match="without a CRS on both"):
        evaluate_pair(small, geotiff_factory(band(slice(1, 3)), crs=None))
    pts = tmp_path / "pts.geojson"
    gpd.GeoDataFrame(geometry=[Point(X0, Y0)], crs="EPSG:32633").to_file(pts)
    with pytest.raises(VectorReadError, match="must be LineStrings"):
        evaluate_pair(good, pts)
    with pytest.raises(DataError, match="no prediction"):
        evaluate_pairs([])


# -- scores only over data that exists (issue 12, rule 4) ------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_no_overlap_is_an_error_naming_both_files_for_every_dtype(geotiff_factory, dtype):
    truth = geotiff_factory(band(slice(10, 14)), "truth.tif")
    far = geotiff_factory(band(slice(10, 14), dtype=dtype), "far.tif", origin=(X0 + 1000, Y0))
    with pytest.raises(DataError, match=r"far\.tif and .*truth\.tif do not overlap"):
        evaluate_pair(far, truth)  # was IoU 1.0 (uint8) and 0.0 (float32)
    # touching edges share no pixel either
    beside = geotiff_factory(
        band(slice(10, 14), dtype=dtype), "beside.tif", origin=(X0 + 64 * 0.5, Y0)
    )
    with pytest.raises(DataError, match="do not overlap"):
        evaluate_pair(beside, truth)


@pytest.mark.parametrize(
    "pred",
    [
        np.full((64, 64), 7, np.uint8),
        np.full((64, 64), 7, np.float32),
        np.full((64, 64), np.nan, np.float32),
    ],
    ids=["uint8-nodata", "float-nodata", "float-nan-untagged"],
)
def test_all_nodata_prediction_is_an_error_whatever_its_dtype(geotiff_factory, pred):
    truth = geotiff_factory(band(slice(10, 14)), "truth.tif")
    nodata = None if np.isnan(pred).any() else 7
    path = geotiff_factory(pred, "pred.tif", nodata=nodata)
    with pytest.raises(DataError, match=r"pred\.tif has no valid pixel over .*truth\.tif"):
        evaluate_pair(path, truth)


def test_nodata_rule_is_the_same_for_uint8_and_float_predictions(geotiff_factory):
    """Shifted by 16 columns (warped onto the truth grid), nodata in a strip, NaN in a
    float: the same pixels are scored and the same counts come out."""
    truth = band(slice(10, 14))
    truth[:, 40:44] = 1
    t = geotiff_factory(truth, "truth.tif")
    pred = band(slice(10, 14))
    pred[:, 24:28] = 1  # the truth's vertical road, in the shifted grid
    pred[:, :4] = 9  # nodata strip
    results = []
    for dtype in (np.uint8, np.float32):
        p = geotiff_factory(
            pred.astype(dtype), f"p_{np.dtype(dtype).name}.tif", nodata=9, origin=(X0 + 8, Y0)
        )
        results.append(evaluate_pair(p, t).pixel.confusion)
    nan = pred.astype(np.float32)
    nan[pred == 9] = np.nan  # NaN is nodata even without a nodata tag
    results.append(
        evaluate_pair(geotiff_factory(nan, "p_nan.tif", origin=(X0 + 8, Y0)), t).pixel.confusion
    )
    assert results[0] == results[1] == results[2]
    assert results[0].total == 64 * (48 - 4)  # 48 shared columns minus the nodata strip
    assert results[0].fp == results[0].fn == 0


def test_truth_all_nodata_or_disjoint_nodata_is_an_error(geotiff_factory):
    pred = geotiff_factory(band(slice(10, 14)), "pred.tif")
    blank = geotiff_factory(np.full((64, 64), 255, np.uint8), "blank.tif", nodata=255)
    with pytest.raises(DataError, match=r"blank\.tif has no valid pixel under .*pred\.tif"):
        evaluate_pair(pred, blank)
    left = band(slice(10, 14))
    left[:, 32:] = 9
    right = band(slice(10, 14))
    right[:, :32] = 9
    with pytest.raises(DataError, match="no valid pixel in common"):
        evaluate_pair(
            geotiff_factory(left, "l.tif", nodata=9), geotiff_factory(right, "r.tif", nodata=9)
        )


def test_empty_truth_over_valid_pixels_is_data(geotiff_factory, caplog):
    """No road in the truth is a real answer: road-free predicted road-free is perfect
    agreement (the Jaccard index of two empty sets is 1), any predicted road scores 0."""
    import logging

    empty = geotiff_factory(np.zeros((64, 64), np.uint8), "empty_mask.tif")
    with caplog.at_level(logging.INFO, logger="geoseg.evaluate"):
        r = evaluate_pair(geotiff_factory(np.zeros((64, 64), np.uint8)), empty)
    assert r.scores["iou"] == 1.0 and r.pixel.confusion.tn == 64 * 64
    assert "perfect agreement" in caplog.text
    wrong = evaluate_pair(geotiff_factory(band(slice(1, 3))), empty)
    assert (wrong.scores["iou"], wrong.scores["precision"]) == (0.0, 0.0)


def test_a_pair_without_pixels_stops_a_folder_run_before_any_scoring(geotiff_factory):
    good = (
        geotiff_factory(band(slice(1, 3)), "a_pred.tif"),
        geotiff_factory(band(slice(1, 3)), "a_mask.tif"),
    )
    far = (
        geotiff_factory(band(slice(1, 3)), "b_pred.tif", origin=(X0 + 1000, Y0)),
        geotiff_factory(band(slice(1, 3)), "b_mask.tif"),
    )
    with pytest.raises(DataError, match=r"b_pred\.tif and .*b_mask\.tif do not overlap"):
        evaluate_pairs([good, far])  # not a summary that silently lacks pair b
    nodata = (geotiff_factory(np.zeros((64, 64), np.uint8), "c_pred.tif", nodata=0), good[1])
    with pytest.raises(DataError, match=r"c_pred\.tif has no valid pixel"):
        evaluate_pairs([good, nodata])


def test_vector_truth_outside_the_raster_is_an_error(tmp_path, geotiff_factory):
    pred = geotiff_factory(band(slice(9, 11)), "pred.tif")
    away = write_lines(tmp_path / "away.gpkg", [LineString([(X0 + 500, Y0), (X0 + 600, Y0)])])
    with pytest.raises(DataError, match=r"away\.gpkg and .*pred\.tif: the roads lie outside"):
        evaluate_pair(pred, away)


def test_bad_vector_truths_are_one_sentence_naming_the_file(tmp_path, geotiff_factory):
    pred = geotiff_factory(band(slice(9, 11)), "pred.tif")
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    # an empty FeatureCollection is an empty network: a score for a raster, 0 for lines
    assert evaluate_pair(pred, empty).scores["recall"] == 1.0
    lines = write_lines(tmp_path / "lines.gpkg", [LineString([(X0, Y0 - 5), (X0 + 30, Y0 - 5)])])
    assert evaluate_pair(lines, empty).scores["apls"] == 0.0  # was a traceback (UTM guess)
    with pytest.raises(DataError, match="both road networks are empty"):
        evaluate_pair(empty, empty)
    one = tmp_path / "one_point.geojson"
    one.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", '
        '"properties": {}, "geometry": {"type": "LineString", "coordinates": '
        "[[500001, 3999990]]}}]}"
    )
    with pytest.raises(VectorReadError, match=r"one_point\.geojson: feature 0 .*at least two"):
        evaluate_pair(pred, one)
    wide = write_lines(
        tmp_path / "wide.geojson", [LineString([(X0, Y0 - 5), (X0 + 30, Y0 - 5)])], width_m=["wide"]
    )
    with pytest.raises(VectorReadError, match=r"wide\.geojson: width_m must be a number.*'wide'"):
        evaluate_pair(pred, wide)
