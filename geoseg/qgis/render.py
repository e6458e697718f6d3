"""Render layers to a PNG headless (the README screenshots and the render test)."""

from __future__ import annotations

from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings, QgsRectangle
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def render_png(
    layers: list,
    path: str,
    width: int,
    height: int,
    extent: QgsRectangle | None = None,
    dpi: int = 96,
) -> str:
    """Draw `layers` (top first) in the CRS of the last one, over `extent` (default: the
    last layer's), into a `width` x `height` PNG at `path`."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[-1].crs())
    settings.setExtent(extent or layers[-1].extent())
    settings.setOutputSize(QSize(width, height))
    settings.setOutputDpi(dpi)
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setFlag(QgsMapSettings.Antialiasing, True)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    if not job.renderedImage().save(path, "PNG"):
        raise OSError(f"{path}: cannot write the PNG")
    return path
