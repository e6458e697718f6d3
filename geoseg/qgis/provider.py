"""The Processing provider "geoseg": its algorithms and its setting (see settings.py)."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .settings import HERE, PYTHON_SETTING, plugin_version


class GeosegProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "geoseg"

    def name(self) -> str:
        return "geoseg"

    def longName(self) -> str:  # noqa: N802
        return f"geoseg {plugin_version()} (road mapping)"

    def icon(self) -> QIcon:
        return QIcon(str(HERE / "icon.svg"))

    def load(self) -> bool:
        try:
            from processing.core.ProcessingConfig import (
                ProcessingConfig,
                Setting,
            )  # exists only inside QGIS

            ProcessingConfig.settingIcons[self.name()] = self.icon()
            ProcessingConfig.addSetting(
                Setting(
                    self.name(),
                    PYTHON_SETTING,
                    "Python of the geoseg environment (empty: the one `geoseg qgis install` "
                    "recorded)",
                    "",
                    valuetype=Setting.FILE,
                )
            )
            ProcessingConfig.readSettings()
        except Exception:  # noqa: BLE001 - without Processing's Python the setting is absent
            pass
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        try:
            from processing.core.ProcessingConfig import ProcessingConfig  # exists only inside QGIS

            ProcessingConfig.removeSetting(PYTHON_SETTING)
        except Exception:  # noqa: BLE001
            pass

    def loadAlgorithms(self) -> None:  # noqa: N802
        for cls in ALGORITHMS:
            self.addAlgorithm(cls())

    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802
        return ["tif"]

    def supportedOutputVectorLayerExtensions(self) -> list[str]:  # noqa: N802
        return ["gpkg", "shp", "geojson"]

    def defaultRasterFileExtension(self) -> str:  # noqa: N802
        return "tif"

    def defaultVectorFileExtension(self, hasGeometry: bool = True) -> str:  # noqa: N802,N803
        return "gpkg"

    def supportsNonFileBasedOutput(self) -> bool:  # noqa: N802
        return False
