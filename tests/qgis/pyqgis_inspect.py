"""PyQGIS half of tests/qgis (run by the system Python, not the project's venv).

    /usr/bin/python3 tests/qgis/pyqgis_inspect.py SPEC.json   ->  SPEC.json.out

Loads every output of the qgis_process runs with PyQGIS and describes it (validity, CRS,
size, fields, counts, styles), runs Predict through processing.run and cancels it at the
first progress report, builds each algorithm's toolbox dialog, and renders the styled
roads over the scene to a PNG.  The pytest side asserts on the JSON it writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import traceback
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsDistanceArea,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)


def describe_raster(path: str) -> dict:
    layer = QgsRasterLayer(path, Path(path).stem)
    info = {"valid": layer.isValid()}
    if layer.isValid():
        extent = layer.extent()
        info.update(
            crs=layer.crs().authid(),
            width=layer.width(),
            height=layer.height(),
            bands=layer.bandCount(),
            extent=[extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()],
            datatype=int(layer.dataProvider().dataType(1)),
            bands_as=[
                layer.dataProvider().colorName(layer.dataProvider().colorInterpretation(b))
                for b in range(1, layer.bandCount() + 1)
            ],
        )
    return info


def describe_vector(path: str) -> dict:
    layer = QgsVectorLayer(path, Path(path).stem, "ogr")
    info = {"valid": layer.isValid()}
    if not layer.isValid():
        return info
    info.update(
        crs=layer.crs().authid(),
        count=layer.featureCount(),
        geometry=int(layer.geometryType()),
        fields=[f.name() for f in layer.fields()],
    )
    renderer = layer.renderer()
    info["symbol_levels"] = bool(renderer and renderer.usingSymbolLevels())
    info["symbol_layers"] = (
        renderer.symbol().symbolLayerCount()
        if renderer and hasattr(renderer, "symbol") and renderer.symbol()
        else 0
    )
    if info["geometry"] == 1:  # lines: QGIS's ellipsoidal lengths (and geoseg's length_m)
        da = QgsDistanceArea()
        da.setSourceCrs(layer.crs(), QgsProject.instance().transformContext())
        da.setEllipsoid("WGS84")
        measured = [da.measureLength(f.geometry()) for f in layer.getFeatures()]
        info["ellipsoidal_m"] = sum(measured)
        if "length_m" in info["fields"]:
            pairs = list(zip([f["length_m"] for f in layer.getFeatures()], measured))
            info["length_m"] = sum(a for a, _ in pairs)
            info["max_length_error"] = max((abs(a - b) / b for a, b in pairs if b > 0), default=0.0)
    if path.endswith(".gpkg"):
        with sqlite3.connect(path) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            if "layer_styles" in tables:
                info["style_times"] = [
                    r[0] for r in con.execute("SELECT update_time FROM layer_styles")
                ]
        con.close()
        try:
            from osgeo_utils.samples import validate_gpkg

            validate_gpkg.check(path, abort_at_first_error=True, warning_as_error=False)
            info["gpkg_valid"] = True
        except Exception as exc:  # noqa: BLE001 - reported to the test
            info["gpkg_valid"] = str(exc)
    return info


def describe_table(path: str) -> dict:
    layer = QgsVectorLayer(path, "scores", "ogr")
    info = {"valid": layer.isValid()}
    if layer.isValid():
        info.update(
            spatial=layer.isSpatial(),
            fields=[f.name() for f in layer.fields()],
            rows=[
                {
                    k: f[k]
                    for k in ("name", "kind", "iou", "f1", "relaxed_f1", "apls")
                    if k in layer.fields().names()
                }
                for f in layer.getFeatures()
            ],
        )
        for row in info["rows"]:
            for k, v in row.items():
                if hasattr(v, "isNull") and v.isNull():
                    row[k] = None
    return info


def cancel_predict(spec: dict) -> dict:
    """processing.run(geoseg:predict) with a feedback that cancels at the first progress."""
    import processing

    feedback = QgsProcessingFeedback()
    seen = []

    def on_progress(value):
        seen.append(value)
        if value > 0:
            feedback.cancel()

    feedback.progressChanged.connect(on_progress)
    out = Path(spec["cancel_dir"])
    out.mkdir(parents=True, exist_ok=True)
    params = {
        "INPUT": str(Path(spec["sample"]) / "holdout.tif"),
        "MODEL": spec["model"],
        "TILE": 64,
        "OVERLAP": 8,
        "OUTPUT_PROB": str(out / "prob.tif"),
        "OUTPUT_MASK": str(out / "mask.tif"),
        "OUTPUT_ROADS": str(out / "roads.gpkg"),
    }
    info = {"error": None}
    try:
        processing.run("geoseg:predict", params, feedback=feedback)
    except QgsProcessingException as exc:
        info["error"] = str(exc)
    info["progress_seen"] = seen
    info["left"] = sorted(p.name for p in out.iterdir())
    return info


def loaded_styles(spec: dict) -> dict:
    """Results loaded into the project as the toolbox does (runAndLoadResults) carry
    geoseg's styles; the raster styles apply to Predict's mask and probability."""
    import processing
    from geoseg.styles import style_mask, style_probability  # the plugin's module

    out = Path(spec["out"]) / "loaded"
    out.mkdir(exist_ok=True)
    processing.runAndLoadResults(
        "geoseg:vectorize",
        {
            "INPUT": str(Path(spec["sample"]) / "holdout_mask.tif"),
            "OUTPUT": str(out / "roads.gpkg"),
        },
    )
    layers = [
        lyr
        for lyr in QgsProject.instance().mapLayers().values()
        if lyr.source().startswith(str(out / "roads.gpkg"))
    ]
    info = {"loaded": len(layers)}
    if layers:
        renderer = layers[0].renderer()
        info["symbol_levels"] = renderer.usingSymbolLevels()
        info["symbol_layers"] = renderer.symbol().symbolLayerCount()
    mask = QgsRasterLayer(str(Path(spec["out"]) / "predict" / "mask.tif"), "mask")
    prob = QgsRasterLayer(str(Path(spec["out"]) / "predict" / "prob.tif"), "prob")
    style_mask(mask)
    style_probability(prob)
    info["mask_renderer"] = mask.renderer().type()
    info["mask_classes"] = [c.value for c in mask.renderer().classes()]
    info["prob_renderer"] = prob.renderer().type()
    info["prob_range"] = [prob.renderer().classificationMin(), prob.renderer().classificationMax()]
    return info


def dialogs() -> dict:
    """Each algorithm's toolbox dialog builds headless (its parameter widgets exist)."""
    from processing.gui.AlgorithmDialog import AlgorithmDialog

    built = {}
    registry = QgsApplication.processingRegistry()
    for alg_id in ("geoseg:predict", "geoseg:vectorize", "geoseg:evaluate", "geoseg:batch"):
        alg = registry.algorithmById(alg_id)
        dialog = AlgorithmDialog(alg.create(), False, None)
        panel = dialog.mainWidget()
        built[alg_id] = sorted(panel.wrappers.keys())
        dialog.close()
    return built


def render(spec: dict) -> dict:
    """The vectorized holdout roads, styled from their GeoPackage, over the scene."""
    sys.path.insert(0, spec["plugins"])
    from geoseg.render import render_png  # the plugin's module

    scene = QgsRasterLayer(str(Path(spec["sample"]) / "holdout.tif"), "holdout")
    roads = QgsVectorLayer(
        str(Path(spec["out"]) / "vectorize" / "holdout_roads.gpkg"), "roads", "ogr"
    )
    render_png([roads, scene], spec["render"], 450, 350)
    return {"png": spec["render"], "symbol_levels": roads.renderer().usingSymbolLevels()}


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    app = QgsApplication([], True)
    app.initQgis()
    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
    from processing.core.Processing import Processing

    Processing.initialize()
    sys.path.insert(0, spec["plugins"])
    import geoseg as plugin_package  # the installed plugin, not the library

    plugin = plugin_package.classFactory(None)
    plugin.initProcessing()
    out = Path(spec["out"])
    report: dict = {"plugin_file": plugin_package.__file__}
    steps = {
        "predict": lambda: {
            "scene": describe_raster(str(Path(spec["sample"]) / "collar.tif")),
            "prob": describe_raster(str(out / "predict" / "prob.tif")),
            "mask": describe_raster(str(out / "predict" / "mask.tif")),
            "roads": describe_vector(str(out / "predict" / "roads.gpkg")),
        },
        "vectorize": lambda: {
            "roads": describe_vector(str(out / "vectorize" / "holdout_roads.gpkg")),
            "truth": describe_vector(str(Path(spec["sample"]) / "holdout_roads.gpkg")),
        },
        "evaluate": lambda: {
            "pixels": describe_table(str(out / "evaluate" / "pixels.gpkg")),
            "lines": describe_table(str(out / "evaluate" / "lines.gpkg")),
        },
        "batch": lambda: {
            "roads": describe_vector(str(out / "area" / "roads.gpkg")),
            "mosaic": describe_raster(str(out / "area" / "masks_1.vrt")),
        },
        "cancel": lambda: cancel_predict(spec),
        "loaded": lambda: loaded_styles(spec),
        "dialogs": dialogs,
        "render": lambda: render(spec),
    }
    for name, step in steps.items():
        try:
            report[name] = step()
        except Exception:  # noqa: BLE001 - the test shows it
            report[name] = {"exception": traceback.format_exc()}
    plugin.unload()
    Path(spec_path + ".out").write_text(json.dumps(report, indent=1, default=str))
    os._exit(0)  # QgsApplication.exitQgis() can crash at exit in PyQGIS scripts


if __name__ == "__main__":
    main(sys.argv[1])
