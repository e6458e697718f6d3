"""Processing values <-> the files geoseg reads and writes (QGIS side)."""

from __future__ import annotations

import os
from pathlib import Path

from qgis.core import (
    QgsMapLayer,
    QgsProcessingException,
    QgsProcessingUtils,
    QgsProviderRegistry,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json")
RASTER_SUFFIXES = (".tif", ".tiff")


def raster_file(layer: QgsMapLayer | None, what: str) -> str:
    """The file behind a raster layer (geoseg reads files, not services)."""
    if layer is None:
        raise QgsProcessingException(f"{what}: no raster layer given")
    path = (
        QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source()).get("path")
        or layer.source()
    )
    if layer.providerType() != "gdal" or not os.path.isfile(path):
        raise QgsProcessingException(
            f"{what}: layer {layer.name()!r} is not a raster file ({layer.source()}); geoseg "
            "reads GeoTIFFs: save it as one first (Export > Save As)"
        )
    return os.path.abspath(path)


def _first_spatial_sublayer(layer: QgsVectorLayer) -> str | None:
    """The first layer with geometry in the layer's file (what geoseg reads)."""
    for entry in layer.dataProvider().subLayers():
        parts = entry.split(
            QgsProviderRegistry.instance().sublayerSeparator()
            if hasattr(QgsProviderRegistry.instance(), "sublayerSeparator")
            else "!!::!!"
        )
        if len(parts) >= 4 and parts[3] not in ("None", "NoGeometry", "Unknown", ""):
            return parts[1]
    return None


def vector_file(layer: QgsVectorLayer, what: str, context, feedback) -> str:
    """A file geoseg can read with the features of `layer`: its own file when that is a
    plain file whose first spatial layer is this one, else a temporary GeoPackage."""
    if layer is None:
        raise QgsProcessingException(f"{what}: no vector layer given")
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    path = parts.get("path") or ""
    name = parts.get("layerName")
    if (
        layer.providerType() == "ogr"
        and os.path.isfile(path)
        and not layer.subsetString()
        and Path(path).suffix.lower() in VECTOR_SUFFIXES
        and (not name or name == _first_spatial_sublayer(layer))
    ):
        return os.path.abspath(path)
    out = QgsProcessingUtils.generateTempFilename(f"{what.lower().replace(' ', '_')}.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    error = QgsVectorFileWriter.writeAsVectorFormatV3(
        layer, out, context.transformContext(), options
    )
    if error[0] != QgsVectorFileWriter.NoError:
        raise QgsProcessingException(f"{what}: cannot export layer {layer.name()!r}: {error[1]}")
    feedback.pushDebugInfo(f"{what}: layer {layer.name()!r} exported to {out}")
    return out


def output_file(value: str, what: str, suffixes: tuple[str, ...]) -> str:
    """An output destination as a file path of one of `suffixes`."""
    if not value:
        raise QgsProcessingException(f"{what}: no output given")
    if value.startswith(("ogr:", "memory:", "postgis:", "spatialite:")) or "|" in value:
        raise QgsProcessingException(
            f"{what}: geoseg writes files; choose a {' or '.join(suffixes)} file, not {value}"
        )
    if Path(value).suffix.lower() not in suffixes:
        raise QgsProcessingException(f"{what}: {value} must end in {' or '.join(suffixes)}")
    return os.path.abspath(value)
