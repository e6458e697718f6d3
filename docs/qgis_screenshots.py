"""Render the README's QGIS screenshots headless with PyQGIS (system Python, not the venv).

    geoseg qgis install --profiles-dir /tmp/shots
    QT_QPA_PLATFORM=offscreen GDAL_PAM_ENABLED=NO /usr/bin/python3 docs/qgis_screenshots.py \\
        /tmp/shots/default/python/plugins

Runs geoseg's "Vectorize road mask" through the installed plugin (processing.run) on
sample_data/holdout_mask.tif, renders the styled result over the scene to
docs/qgis_roads.png, and grabs the toolbox dialog of "Predict roads" (filled in for the
holdout scene) to docs/qgis_dialog.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsVectorLayer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SAMPLE = REPO / "sample_data"


def main(plugins: str) -> None:
    app = QgsApplication([], True)
    app.initQgis()
    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
    import processing
    from processing.core.Processing import Processing

    Processing.initialize()
    sys.path.insert(0, plugins)
    import geoseg as plugin_package  # the installed plugin

    plugin = plugin_package.classFactory(None)
    plugin.initProcessing()
    from geoseg.render import render_png

    tmp = Path(tempfile.mkdtemp(prefix="geoseg_shots_"))
    roads_path = processing.run("geoseg:vectorize", {
        "INPUT": str(SAMPLE / "holdout_mask.tif"),
        "OUTPUT": str(tmp / "holdout_roads.gpkg")})["OUTPUT"]
    scene = QgsRasterLayer(str(SAMPLE / "holdout.tif"), "holdout")
    roads = QgsVectorLayer(roads_path, "roads", "ogr")  # styled from its GeoPackage
    render_png([roads, scene], str(DOCS / "qgis_roads.png"), 720, 560)

    QgsProject.instance().addMapLayer(scene)
    from processing.gui.AlgorithmDialog import AlgorithmDialog

    alg = QgsApplication.processingRegistry().algorithmById("geoseg:predict")
    dialog = AlgorithmDialog(alg.create(), False, None)
    dialog.mainWidget().setParameters({
        "INPUT": scene.id(), "MODEL": "/home/me/models/linknet_resnet34_20261201-093000.pt",
        "TILE": 512, "TTA": 1, "OUTPUT_PROB": "TEMPORARY_OUTPUT",
        "OUTPUT_MASK": "TEMPORARY_OUTPUT", "OUTPUT_ROADS": "TEMPORARY_OUTPUT"})
    dialog.show()
    dialog.resize(980, 900)  # after show(): the dialog restores its saved size when shown
    for _ in range(20):
        app.processEvents()
    dialog.grab().save(str(DOCS / "qgis_dialog.png"), "PNG")
    dialog.close()
    plugin.unload()
    print(DOCS / "qgis_roads.png")
    print(DOCS / "qgis_dialog.png")
    sys.stdout.flush()
    os._exit(0)  # QgsApplication.exitQgis() can crash at exit in PyQGIS scripts


if __name__ == "__main__":
    main(sys.argv[1])
