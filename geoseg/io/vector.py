"""Write and read road-line layers (pyogrio): GeoPackage, Shapefile, GeoJSON.

Outputs are QGIS-ready: only valid, non-empty LineStrings; Shapefiles get ``.prj`` and a
UTF-8 ``.cpg`` and field names of at most 10 characters; a QGIS style (``.qml``) next
to the layer draws each road as wide as its ``width_m`` (in metres on the ground,
whatever the CRS), and a GeoPackage also carries that style as its default in the
``layer_styles`` table, so QGIS opens it styled.  Every file is written under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely

from geoseg.errors import OutputError, VectorReadError
from geoseg.io.files import (
    atomic_output,
    note_input,
    output_set,
    readable_path,
    write_text_output,
)
from geoseg.io.provenance import software, tags

if TYPE_CHECKING:
    import geopandas

log = logging.getLogger(__name__)

DRIVERS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON"}
SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
SHAPEFILE_FIELD_LIMIT = 10
GPKG_VERSION = "1.2"
PIXEL_LENGTH, PIXEL_WIDTH = "length_px", "width_px"  # columns of lines without a CRS

QML = """<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<!-- {provenance} -->
<qgis version="3.28.0" styleCategories="Symbology">
  <renderer-v2 type="singleSymbol" symbollevels="1" enableorderby="0" forceraster="0">
    <symbols>
      <symbol type="line" name="0" alpha="1" clip_to_extent="1" force_rhr="0">
{casing}
{fill}
      </symbol>
    </symbols>
  </renderer-v2>
  <layerGeometryType>1</layerGeometryType>
</qgis>
"""

LAYER = """        <layer class="SimpleLine" pass="{pass_}" enabled="1" locked="0">
          <Option type="Map">
            <Option type="QString" name="line_color" value="{color}"/>
            <Option type="QString" name="line_style" value="solid"/>
            <Option type="QString" name="line_width" value="{default}"/>
            <Option type="QString" name="line_width_unit" value="RenderMetersInMapUnits"/>
            <Option type="QString" name="capstyle" value="round"/>
            <Option type="QString" name="joinstyle" value="round"/>
          </Option>
          <data_defined_properties>
            <Option type="Map">
              <Option type="QString" name="name" value=""/>
              <Option type="Map" name="properties">
                <Option type="Map" name="outlineWidth">
                  <Option type="bool" name="active" value="true"/>
                  <Option type="QString" name="expression" value="{expression}"/>
                  <Option type="int" name="type" value="3"/>
                </Option>
              </Option>
              <Option type="QString" name="type" value="collection"/>
            </Option>
          </data_defined_properties>
        </layer>"""


def qml_style(width_field: str = "width_m", default_m: float = 6.0) -> str:
    """QGIS style: a dark casing under a light fill, widths in ground metres from a field;
    symbol levels on, so every casing is drawn before every fill (no casing across a
    neighbouring road at junctions).  A layer without CRS (``width_px``, the no-CRS rule)
    is drawn in map units, which are its pixels."""
    width = f"coalesce(&quot;{width_field}&quot;, {default_m:g})"
    layer = LAYER
    if width_field == PIXEL_WIDTH:
        layer = LAYER.replace("RenderMetersInMapUnits", "MapUnit")
    casing = layer.format(
        pass_=0, color="90,90,90,255", default=default_m + 1, expression=f"{width} + 1"
    )
    fill = layer.format(pass_=1, color="255,235,160,255", default=default_m, expression=width)
    return QML.format(casing=casing, fill=fill, provenance=software("roads"))


def check_vector_crs(path: str | Path, crs: Any) -> None:
    """The no-CRS rule for vector outputs: GeoJSON means WGS84 (RFC 7946), so lines
    without a CRS (pixel coordinates) are refused there, before any work."""
    path = Path(path)
    if crs is None and driver_for(path) == "GeoJSON":
        raise OutputError(
            f"{path}: GeoJSON means WGS84 longitude/latitude, but these roads have no CRS "
            "(the raster is not georeferenced: pixel coordinates); write .gpkg or .shp"
        )


@dataclass(frozen=True)
class RoadLength:
    """Total length of a road layer with its unit: ``km`` on the ground (from the
    ``length_m`` column) for a georeferenced layer, ``px`` for one without a CRS (its
    coordinates are pixel coordinates, never metres)."""

    value: float
    unit: str

    def __str__(self) -> str:
        return f"{self.value:.0f} px" if self.unit == "px" else f"{self.value:.2f} {self.unit}"

    @property
    def km(self) -> float | None:
        """The length in km, None when it is not a ground length."""
        return self.value if self.unit == "km" else None


def road_length(roads: Any) -> RoadLength:
    """The one road-length summary (predict, vectorize, demo, compare, batch): km of a
    layer with a CRS (``length_m``, else the geometry in the CRS's metres), pixels of a
    layer without one (``length_px``, else the geometry)."""
    crs = getattr(roads, "crs", None) if roads is not None else None
    if roads is None or len(roads) == 0:
        return RoadLength(0.0, "km" if crs is not None or roads is None else "px")
    if crs is None or PIXEL_LENGTH in roads:
        column = roads[PIXEL_LENGTH] if PIXEL_LENGTH in roads else roads.geometry.length
        return RoadLength(float(column.sum()), "px")
    if "length_m" in roads:
        return RoadLength(float(roads["length_m"].sum()) / 1000.0, "km")
    return RoadLength(float(roads.geometry.length.sum()) / 1000.0, "km")


def driver_for(path: Path) -> str:
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise OutputError(
            f"{path}: unknown vector format {path.suffix!r}; use .gpkg, .shp or .geojson"
        )
    return driver


def _shapefile_fields(gdf: geopandas.GeoDataFrame) -> geopandas.GeoDataFrame:
    """Shorten field names to 10 characters (unique), as the DBF format requires."""
    renames, used = {}, set()
    for name in gdf.columns:
        if name == gdf.geometry.name:
            continue
        short = name[:SHAPEFILE_FIELD_LIMIT]
        k = 1
        while short in used:
            suffix = f"_{k}"
            short = name[: SHAPEFILE_FIELD_LIMIT - len(suffix)] + suffix
            k += 1
        used.add(short)
        if short != name:
            renames[name] = short
    if renames:
        log.warning(
            "shapefile field names shortened: %s", ", ".join(f"{a}→{b}" for a, b in renames.items())
        )
    return gdf.rename(columns=renames)


def clean_lines(gdf: geopandas.GeoDataFrame) -> geopandas.GeoDataFrame:
    """Only valid, non-empty LineStrings (MultiLineStrings are split into their parts)."""

    gdf = gdf.explode(index_parts=False, ignore_index=True) if len(gdf) else gdf
    geoms = gdf.geometry.values
    ok = ~shapely.is_empty(geoms) & shapely.is_valid(geoms) & (shapely.get_type_id(geoms) == 1)
    dropped = int((~ok).sum())
    if dropped:
        log.warning("dropped %d empty, invalid or non-line geometries", dropped)
    return gdf[ok].reset_index(drop=True)


# QGIS 3.22's own definition of the style table (it creates it through OGR, which also
# registers it in gpkg_contents as an attributes table); update_time is a GeoPackage
# DATETIME: ISO-8601 UTC with milliseconds and a 'Z', e.g. 2026-12-01T21:50:10.859Z.
GPKG_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"
LAYER_STYLES_TABLE = (
    'CREATE TABLE IF NOT EXISTS "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT '
    'NULL, "f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
    '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
    '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), '
    f'"update_time" DATETIME DEFAULT ({GPKG_NOW}))'
)


def _embed_gpkg_style(path: Path, layer: str, qml: str) -> None:
    """Store `qml` as the layer's default style in the GeoPackage (QGIS reads it on open),
    in the ``layer_styles`` table as QGIS itself writes it."""
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        found = con.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)
        ).fetchone()
        con.execute(LAYER_STYLES_TABLE)
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
            f"description, last_change, srs_id) VALUES ('layer_styles', 'attributes', "
            f"'layer_styles', '', {GPKG_NOW}, 0)"
        )
        con.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
            f"owner, update_time) VALUES ('', '', ?, ?, ?, ?, '', 1, 'geoseg roads', '', "
            f"{GPKG_NOW})",
            (layer, found[0] if found else "geom", layer, qml),
        )


def write_roads(
    gdf: geopandas.GeoDataFrame, path: str | Path, style: bool = True, layer: str | None = None
) -> Path:
    """Write road lines to `path` (.gpkg, .shp or .geojson, by suffix) atomically.

    Keeps the CRS, drops invalid/empty/non-line geometries, and with `style` writes a
    ``.qml`` QGIS style beside the file (and into a GeoPackage).  Lines without a CRS
    claim none, and GeoJSON (which means WGS84) is refused for them
    (:func:`check_vector_crs`).  Returns `path`.
    """
    import pyogrio  # lazy: pyogrio loads geopandas

    path = Path(path)
    driver = driver_for(path)
    check_vector_crs(path, gdf.crs)
    layer = layer or path.stem
    gdf = clean_lines(gdf)
    options: dict[str, Any] = {}
    if driver == "ESRI Shapefile":
        gdf = _shapefile_fields(gdf)
        options["encoding"] = "UTF-8"  # also writes the .cpg
    elif driver == "GPKG":
        # GeoPackage 1.2, not newer GDAL's default 1.4, which older GDAL (3.6: QGIS 3.22
        # on Debian 12) opens with "may only be partially supported" warnings
        options["dataset_options"] = {"VERSION": GPKG_VERSION}
    pixels = PIXEL_WIDTH in gdf.columns
    qml = (qml_style(PIXEL_WIDTH) if pixels else qml_style()) if style else None
    sidecars = SHAPEFILE_SIDECARS if driver == "ESRI Shapefile" else ()
    if driver == "GPKG":
        options["layer_metadata"] = tags("roads")
    elif driver == "GeoJSON":
        options["layer_options"] = {"DESCRIPTION": software("roads")}
    expected = len(gdf)

    def verify(tmp: Path) -> None:
        # a shapefile's one layer is named after the (temporary) file
        found = pyogrio.read_info(tmp, layer=None if sidecars else layer)["features"]
        if found != expected:
            raise OutputError(f"{path}: wrote {found} of {expected} features")

    try:
        with output_set():  # the layer and its style appear together
            with atomic_output(path, sidecars=sidecars, kind="roads", verify=verify) as tmp:
                with warnings.catch_warnings():  # no CRS: the no-CRS rule, logged upstream
                    warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
                    pyogrio.write_dataframe(
                        gdf, tmp, layer=layer, driver=driver, geometry_type="LineString", **options
                    )
                if qml and driver == "GPKG":
                    _embed_gpkg_style(tmp, layer, qml)
            if qml:
                write_text_output(path.with_suffix(".qml"), qml)
    except pyogrio.errors.DataSourceError as exc:
        raise OutputError(f"{path}: cannot write layer ({str(exc).splitlines()[0]})") from None
    return path


def read_roads(path: str | Path, layer: str | None = None) -> geopandas.GeoDataFrame:
    """Read a road-line layer as a GeoDataFrame (one-line error when unreadable).

    Without `layer`, the first layer with geometry is read (a styled GeoPackage also
    holds QGIS's ``layer_styles`` table).
    """
    import pyogrio  # lazy: pyogrio loads geopandas

    path = readable_path(path)
    note_input(path)
    if not path.exists():
        raise VectorReadError(f"{path}: file not found")
    try:
        if layer is None:  # the first layer with geometry (not QGIS's layer_styles table)
            layers = pyogrio.list_layers(path)
            spatial = [name for name, geom in layers if geom is not None]
            layer = spatial[0] if spatial else layers[0][0]
        return pyogrio.read_dataframe(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise VectorReadError(
            f"{path}: cannot read vector layer ({str(exc).splitlines()[0]})"
        ) from None
    except shapely.errors.GEOSException as exc:  # e.g. a LineString of one point
        raise VectorReadError(
            f"{path}: {_broken_feature(path, layer)} has a geometry that "
            f"cannot be built ({_geos_reason(exc)})"
        ) from None


def _geos_reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0].split(": ", 1)[-1]
    if "point array must contain 0 or >1 elements" in text:
        return "a line needs at least two points"
    return text


def _broken_feature(path: Path, layer: str | None) -> str:
    """'feature <fid>' of the first feature whose geometry GEOS refuses (or 'a feature')."""
    import pyogrio.raw  # lazy: pyogrio loads geopandas

    try:
        _, fids, geoms, _ = pyogrio.raw.read(
            path, layer=layer, read_geometry=True, return_fids=True, columns=[]
        )
    except Exception:  # noqa: BLE001 - only to name the feature; the caller reports
        return "a feature"
    for fid, wkb in zip(fids, geoms):
        try:
            shapely.from_wkb(wkb)
        except shapely.errors.GEOSException:
            return f"feature {fid}"
    return "a feature"
