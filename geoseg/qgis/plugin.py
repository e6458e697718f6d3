"""The plugin object QGIS creates (classFactory): it registers the Processing provider."""

from __future__ import annotations

from qgis.core import QgsApplication

from .provider import GeosegProvider


class GeosegPlugin:
    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: GeosegProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS's name (qgis_process calls it)
        if self.provider is None:
            self.provider = GeosegProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
