"""The CLI's names for library parameters: errors name the flag the user typed.

Library messages name a parameter as the library spells it (``tile must be a positive
multiple of 32``, :class:`geoseg.errors.ParameterError`); on the command line the same
setting is a flag, so :func:`cli_message` says ``--tile must be ...`` instead.
"""

from __future__ import annotations

from geoseg.errors import GeoSegError, ParameterError

# library parameter -> the flag every command that has the setting spells it with
FLAGS: dict[str, str] = {
    "tile": "--tile",
    "overlap": "--overlap",
    "batch_size": "--batch-size",
    "tta": "--tta",
    "threshold": "--threshold",
    "bands": "--bands",
    "model": "--model",
    "arch": "--arch",
    "backbone": "--backbone",
    "models_dir": "--models-dir",
}


def cli_message(exc: GeoSegError) -> str:
    """`exc`'s one-line message, naming the CLI flag where it names a parameter."""
    text = str(exc)
    if isinstance(exc, ParameterError) and exc.param in FLAGS and text.startswith(exc.param):
        text = FLAGS[exc.param] + text[len(exc.param) :]
    for param in exc.params:  # "pass models_dir=DIR" -> "pass --models-dir DIR"
        if param in FLAGS:
            text = text.replace(f"{param}=", f"{FLAGS[param]} ")
    return text
