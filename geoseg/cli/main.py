"""The `geoseg` command group.

Commands live one per module under ``geoseg/cli/`` and are imported lazily (only the
one being run), so ``geoseg --help`` is instant and does not import torch.  Library
errors (:class:`geoseg.errors.GeoSegError`) become one-line messages with exit code 1;
``-v`` shows the traceback as well.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from importlib import import_module

import click

from geoseg import __version__
from geoseg.errors import GeoSegError

# command name -> "module:attribute"; add one line per command module.
COMMANDS: dict[str, str] = {
    "sample-data": "geoseg.cli.sample_data:sample_data",
    "models": "geoseg.cli.models:models",
    "predict": "geoseg.cli.predict:predict",
    "vectorize": "geoseg.cli.vectorize:vectorize",
    "batch": "geoseg.cli.batch:batch",
    "evaluate": "geoseg.cli.evaluate:evaluate",
    "train": "geoseg.cli.train:train",
    "demo": "geoseg.cli.demo:demo",
    "compare": "geoseg.cli.compare:compare",
    "qgis": "geoseg.cli.qgis:qgis",
}

log = logging.getLogger("geoseg")


class LazyGroup(click.Group):
    """A click group that imports a command's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(import_module(module), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GeoSegError as exc:
            if ctx.meta.get("geoseg.verbose", 0) > 0:
                log.exception("traceback follows")
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            raise click.ClickException("interrupted; no partial output was kept") from None


def configure_logging(verbose: int, quiet: int) -> None:
    level = logging.INFO - 10 * verbose + 10 * quiet
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("geoseg")
    root.handlers[:] = [handler]
    root.setLevel(max(logging.DEBUG, min(level, logging.ERROR)))
    root.propagate = False


def _sigterm_as_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def interrupt_on_sigterm() -> None:
    """SIGTERM (a GUI's Cancel, a scheduler, torchrun) ends a command like Ctrl-C does:
    temporary outputs are removed and the exit code is 1."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="geoseg")
@click.option("-v", "--verbose", count=True, help="More output (-vv for debug); shows tracebacks.")
@click.option("-q", "--quiet", count=True, help="Less output (warnings and errors only).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """geoseg: map roads from satellite and aerial GeoTIFFs.

    Predict road probabilities and masks with backbone-selectable segmenters,
    score them (IoU, APLS) and turn them into georeferenced centerlines.
    """
    ctx.meta["geoseg.verbose"] = verbose
    configure_logging(verbose, quiet)
    interrupt_on_sigterm()
