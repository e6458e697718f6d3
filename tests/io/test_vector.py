"""Road layers: formats, CRS, shapefile rules, QGIS style, atomic writes."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, MultiLineString, Point

from geoseg.errors import OutputError, VectorReadError
from geoseg.io.vector import qml_style, read_roads, write_roads


def roads_frame(crs="EPSG:32633") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": [0, 1],
            "node_from": [0, 1],
            "node_to": [1, 2],
            "length_m": [100.0, 50.0],
            "width_m": [6.5, 4.0],
            "mean_prob": [0.9, 0.7],
        },
        geometry=[
            LineString([(500000, 4000000), (500100, 4000000)]),
            LineString([(500100, 4000000), (500100, 4000050)]),
        ],
        crs=crs,
    )


@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".geojson"])
def test_round_trip_keeps_crs_fields_and_geometry(tmp_path, suffix):
    path = write_roads(roads_frame(), tmp_path / f"roads{suffix}")
    back = read_roads(path)
    assert back.crs == "EPSG:32633"
    assert list(back.geometry.geom_type) == ["LineString", "LineString"]
    assert back.geometry.iloc[1].equals(roads_frame().geometry.iloc[1])
    np.testing.assert_allclose(back["width_m"], [6.5, 4.0])
    assert (tmp_path / "roads.qml").exists()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_shapefile_is_qgis_ready(tmp_path):
    frame = roads_frame().assign(a_very_long_field_name=[1, 2], a_very_long_field_other=[3, 4])
    write_roads(frame, tmp_path / "roads.shp")
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        assert (tmp_path / f"roads{ext}").exists(), ext
    assert (tmp_path / "roads.cpg").read_text().strip().upper().replace("-", "") == "UTF8"
    back = gpd.read_file(tmp_path / "roads.shp")
    assert back.crs.to_epsg() == 32633
    fields = [c for c in back.columns if c != "geometry"]
    assert all(len(c) <= 10 for c in fields) and len(set(fields)) == len(fields)
    assert {"node_from", "node_to", "length_m", "width_m", "mean_prob"} <= set(fields)


def test_only_valid_nonempty_linestrings_are_written(tmp_path):
    frame = roads_frame()
    extra = gpd.GeoDataFrame(
        {
            "id": [2, 3, 4],
            "node_from": [0] * 3,
            "node_to": [0] * 3,
            "length_m": [1.0] * 3,
            "width_m": [1.0] * 3,
            "mean_prob": [0.5] * 3,
        },
        geometry=[LineString(), Point(1, 1), MultiLineString([[(0, 0), (1, 0)], [(2, 0), (3, 0)]])],
        crs=frame.crs,
    )
    path = write_roads(gpd.pd.concat([frame, extra]), tmp_path / "roads.gpkg")
    back = read_roads(path)
    assert len(back) == 4 and set(back.geometry.geom_type) == {"LineString"}


def test_qml_style_draws_width_in_ground_metres(tmp_path):
    root = ET.fromstring(qml_style())
    layers = root.findall(".//layer")
    assert len(layers) == 2
    options = {o.get("name"): o.get("value") for o in layers[1].iter("Option")}
    assert options["line_width_unit"] == "RenderMetersInMapUnits"
    assert options["expression"] == 'coalesce("width_m", 6)'
    path = write_roads(roads_frame(), tmp_path / "roads.gpkg")
    with sqlite3.connect(path) as con:
        ((name, qml, default),) = con.execute(
            "SELECT f_table_name, styleQML, useAsDefault FROM layer_styles"
        ).fetchall()
    assert name == "roads" and default == 1 and "width_m" in qml
    write_roads(roads_frame(), tmp_path / "plain.geojson", style=False)
    assert not (tmp_path / "plain.qml").exists()


def test_empty_layer_keeps_schema_and_crs(tmp_path):
    from geoseg.vectorize.lines import empty_roads

    path = write_roads(empty_roads("EPSG:4326", with_prob=False), tmp_path / "none.gpkg")
    back = read_roads(path)
    assert len(back) == 0 and back.crs.to_epsg() == 4326
    assert {"id", "node_from", "node_to", "length_m", "width_m"} <= set(back.columns)


def test_errors_are_one_line(tmp_path):
    with pytest.raises(OutputError, match="unknown vector format"):
        write_roads(roads_frame(), tmp_path / "roads.kml")
    with pytest.raises(VectorReadError, match="not found"):
        read_roads(tmp_path / "missing.gpkg")
    (tmp_path / "junk.gpkg").write_text("not a geopackage")
    with pytest.raises(VectorReadError):
        read_roads(tmp_path / "junk.gpkg")
