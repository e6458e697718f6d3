"""Exception hierarchy.

Every error geoseg raises on purpose derives from :class:`GeoSegError`; the CLI turns
these into one-line messages (exit code 1).  Subclasses also inherit the matching
built-in so library users can catch ``OSError`` / ``ValueError`` as usual
(rasterio's convention).
"""

from __future__ import annotations


class GeoSegError(Exception):
    """Root of all geoseg errors: the message is one sentence for the user.

    A message that tells the user to give a setting names it as the library spells it,
    ``name=VALUE`` (``pass models_dir=DIR``), and lists it in ``params``; a front end
    names its own spelling instead (the CLI says ``--models-dir DIR``:
    :mod:`geoseg.cli.flags`)."""

    params: tuple[str, ...] = ()


def naming(exc: GeoSegError, *params: str) -> GeoSegError:
    """`exc`, marked as naming `params` in its message (see :class:`GeoSegError`)."""
    exc.params = params  # an instance attribute: kept by pickling between ranks
    return exc


class ConfigError(GeoSegError, ValueError):
    """A configuration file or value is invalid."""


class ParameterError(ConfigError):
    """A value given for a named parameter is invalid.

    The message starts with the parameter's name as the library spells it (``tile must
    be ...``); ``param`` holds that name, so a front end can name its own spelling of the
    setting instead (the CLI says ``--tile must be ...``: :mod:`geoseg.cli.flags`).
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param  # kept by pickling (ranks send errors to each other)


class RasterReadError(GeoSegError, OSError):
    """A raster is missing, unreadable, corrupt or not a raster."""


class VectorReadError(GeoSegError, OSError):
    """A vector file is missing or unreadable."""


class OutputError(GeoSegError, OSError):
    """An output cannot be written (unwritable folder, disk full...)."""


class BandMismatchError(GeoSegError, ValueError):
    """A raster's bands do not match what the model or command expects."""


class GridMismatchError(GeoSegError, ValueError):
    """Two rasters that must share a grid do not."""


class ModelError(GeoSegError, ValueError):
    """Unknown architecture/backbone or a model that cannot be built."""


class CheckpointError(GeoSegError, ValueError):
    """A checkpoint is missing, unsafe, corrupt or for another model."""


class DataError(GeoSegError, ValueError):
    """A dataset is empty, unpaired or otherwise unusable."""


class TrainingError(GeoSegError, RuntimeError):
    """Training cannot go on (for example the loss became NaN)."""


class DownloadError(GeoSegError, OSError):
    """A download failed, was incomplete or does not match its published sha256."""
