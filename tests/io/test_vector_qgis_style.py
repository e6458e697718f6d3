"""The road style as QGIS needs it: symbol levels on (casings under every fill), and the
GeoPackage style table written the way QGIS 3.22 writes it."""

from __future__ import annotations

import re
import sqlite3
import xml.etree.ElementTree as ET

import geopandas as gpd
import pyogrio
from shapely.geometry import LineString

from geoseg.io.vector import qml_style, write_roads

GPKG_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def frame():
    return gpd.GeoDataFrame(
        {"id": [0, 1], "width_m": [6.0, 4.0]},
        geometry=[
            LineString([(500000, 4000000), (500100, 4000000)]),
            LineString([(500050, 3999950), (500050, 4000050)]),
        ],
        crs="EPSG:32633",
    )


def test_qml_draws_with_symbol_levels_casing_first():
    root = ET.fromstring(qml_style())
    renderer = root.find("renderer-v2")
    assert renderer.get("symbollevels") == "1"
    passes = [
        (
            int(layer.get("pass")),
            {o.get("name"): o.get("value") for o in layer.iter("Option")}["line_color"],
        )
        for layer in root.iter("layer")
    ]
    assert passes == [(0, "90,90,90,255"), (1, "255,235,160,255")]  # casing drawn first


def test_gpkg_style_table_is_as_qgis_writes_it(tmp_path):
    path = write_roads(frame(), tmp_path / "roads.gpkg")
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200  # GeoPackage 1.2
        sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 'layer_styles'").fetchone()[0]
        assert "DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))" in sql
        ((table, geom, default, when),) = con.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, update_time FROM layer_styles"
        )
        kind, changed = con.execute(
            "SELECT data_type, last_change FROM gpkg_contents WHERE table_name = 'layer_styles'"
        ).fetchone()
    assert (table, geom, default) == ("roads", "geom", 1)
    assert GPKG_DATETIME.match(when), when
    assert kind == "attributes" and GPKG_DATETIME.match(changed)
    # readers that take "the first layer" still get the roads
    assert [list(x) for x in pyogrio.list_layers(path)] == [
        ["roads", "LineString"],
        ["layer_styles", None],
    ]
