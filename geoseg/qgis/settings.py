"""The plugin's folder, version and its one Processing setting (the Python of the geoseg
environment); shared by the provider and the algorithms."""

from __future__ import annotations

from pathlib import Path

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
        from processing.core.ProcessingConfig import ProcessingConfig  # exists only inside QGIS

        return str(ProcessingConfig.getSetting(PYTHON_SETTING) or "")
    except Exception:  # noqa: BLE001 - no Processing plugin: no setting
        return ""
