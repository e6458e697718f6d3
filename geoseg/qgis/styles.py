"""Styles for geoseg's outputs in QGIS: road centerlines use the ``.qml`` geoseg writes
beside them; the mask is red roads on transparent ground and the probability a
transparent-to-red ramp."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    Qgis,
    QgsColorRampShader,
    QgsPalettedRasterRenderer,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
)
from qgis.PyQt.QtGui import QColor

ROAD_RED = QColor(230, 60, 40)


def style_mask(layer: QgsRasterLayer) -> None:
    """Road pixels (1) red, everything else transparent."""
    classes = [QgsPalettedRasterRenderer.Class(1, ROAD_RED, "road")]
    layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes))
    layer.renderer().setOpacity(0.7)


def style_probability(layer: QgsRasterLayer) -> None:
    """Probability 0 transparent, rising through yellow to red at 1 (uint8 255)."""
    top = 1.0 if layer.dataProvider().dataType(1) in (Qgis.Float32, Qgis.Float64) else 255.0
    ramp = QgsColorRampShader(0.0, top)
    ramp.setColorRampType(QgsColorRampShader.Interpolated)
    ramp.setColorRampItemList(
        [
            QgsColorRampShader.ColorRampItem(0.0, QColor(255, 255, 180, 0), "0"),
            QgsColorRampShader.ColorRampItem(0.5 * top, QColor(255, 200, 60, 160), "0.5"),
            QgsColorRampShader.ColorRampItem(top, QColor(215, 25, 28, 255), "1"),
        ]
    )
    shader = QgsRasterShader(0.0, top)
    shader.setRasterShaderFunction(ramp)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(0.0)
    renderer.setClassificationMax(top)
    layer.setRenderer(renderer)


def style_roads(layer, path: str | Path) -> bool:
    """Load the ``.qml`` geoseg wrote beside the road layer at `path` (False if none)."""
    qml = Path(path).with_suffix(".qml")
    if not qml.is_file():
        return False
    _, ok = layer.loadNamedStyle(str(qml))
    return bool(ok)


class _Styler(QgsProcessingLayerPostProcessorInterface):
    """Applies a geoseg style to an output when Processing loads it into the project."""

    alive: list = []  # Processing keeps only a C++ pointer: the Python objects live here

    def __init__(self, kind: str, path: str) -> None:
        super().__init__()
        self.kind, self.path = kind, path

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802
        if self.kind == "mask":
            style_mask(layer)
        elif self.kind == "probability":
            style_probability(layer)
        else:
            style_roads(layer, self.path)
        layer.triggerRepaint()


def style_on_load(context, path: str, kind: str) -> None:
    """Style output `path` (kind: mask, probability or roads) when it is loaded."""
    if path and context.willLoadLayerOnCompletion(path):
        styler = _Styler(kind, path)
        _Styler.alive.append(styler)
        context.layerToLoadOnCompletionDetails(path).setPostProcessor(styler)
