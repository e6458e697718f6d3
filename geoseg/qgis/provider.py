"""The Processing provider "geoseg" and its setting (the Python of the geoseg environment)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

HERE = Path(__file__).resolve().parent
PYTHON_SETTING = "GEOSEG_PYTHON"


def plugin_version() -> str:
    try:
        for line in (HERE / "metadata.txt").read_text(encoding="utf-8").splitlines():
            if line.startswith("version="):
                return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "?"


def python_setting() -> str:
    """The Processing setting's value ('' when unset or Processing's Python is absent)."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig

        return str(ProcessingConfig.getSetting(PYTHON_SETTING) or "")
    except Exception:  # noqa: BLE001 - no Processing plugin: no setting
        return ""


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
            from processing.core.ProcessingConfig import ProcessingConfig, Setting

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
            from processing.core.ProcessingConfig import ProcessingConfig

            ProcessingConfig.removeSetting(PYTHON_SETTING)
        except Exception:  # noqa: BLE001
            pass

    def loadAlgorithms(self) -> None:  # noqa: N802
        from .algorithms import ALGORITHMS

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
