"""geoseg's QGIS plugin: the Processing provider "geoseg" (Predict roads, Vectorize road
mask, Evaluate, Map an area).

`geoseg qgis install` copies this folder into a QGIS profile's ``python/plugins/geoseg``.
Inside QGIS it runs with QGIS's own Python, which usually has no torch: the plugin imports
only the standard library and qgis, never the rest of geoseg, and runs the ``geoseg``
command of the environment that installed it (``<python> -m geoseg ...``) in a
subprocess.  Importing this package outside QGIS is harmless (nothing here imports qgis).
"""


def classFactory(iface):  # noqa: N802 - the name QGIS calls
    from .plugin import GeosegPlugin  # inside QGIS: loaded when QGIS asks for it

    return GeosegPlugin(iface)
