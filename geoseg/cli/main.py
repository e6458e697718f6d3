"""The `geoseg` command group.

Commands live one per module under ``geoseg/cli/`` and are imported lazily (only the
one being run), so ``geoseg --help`` is instant and does not import torch.  Library
errors (:class:`geoseg.errors.GeoSegError`) become one-line messages with exit code 1;
``-v`` shows the traceback as well.
"""

from __future__ import annotations

import logging
import sys
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
    "configs": "geoseg.cli.configs:configs",
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
        return with_verbosity_options(getattr(import_module(module), attr))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GeoSegError as exc:
            if ctx.meta.get("geoseg.verbose", 0) > 0:
                log.exception("traceback follows")
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            raise click.ClickException("interrupted; no partial output was kept") from None


def _more_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> None:
    """-v/-q given after the command name: add to the group's counts, reconfigure logging."""
    if not value:
        return
    meta = ctx.meta
    key = "geoseg.verbose" if param.name == "verbose" else "geoseg.quiet"
    meta[key] = meta.get(key, 0) + value
    configure_logging(meta.get("geoseg.verbose", 0), meta.get("geoseg.quiet", 0))


def with_verbosity_options(cmd: click.Command) -> click.Command:
    """Give a subcommand the group's -v/-q, so they work anywhere on the command line."""
    if getattr(cmd, "_geoseg_verbosity", False):
        return cmd
    taken = {o for p in cmd.params for o in getattr(p, "opts", [])}
    for short, long, text in (("-v", "--verbose", "More output (-vv for debug); shows tracebacks."),
                              ("-q", "--quiet", "Less output (warnings and errors only).")):
        if short not in taken and long not in taken:
            cmd.params.append(click.Option([short, long], count=True, expose_value=False,
                                           is_eager=True, callback=_more_verbosity, help=text))
    cmd._geoseg_verbosity = True  # type: ignore[attr-defined]
    return cmd


def configure_logging(verbose: int, quiet: int) -> None:
    """geoseg's log level from -v/-q; under torchrun only rank 0 prints INFO lines (the
    other ranks print warnings and errors, marked with their rank)."""
    import os

    level = logging.INFO - 10 * verbose + 10 * quiet
    rank = int(os.environ.get("RANK", "0") or 0)
    fmt = "%(levelname)s: %(message)s"
    if rank != 0:
        level = max(level, logging.WARNING)
        fmt = f"%(levelname)s: rank {rank}: %(message)s"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger("geoseg")
    root.handlers[:] = [handler]
    root.setLevel(max(logging.DEBUG, min(level, logging.ERROR)))
    root.propagate = False


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
    ctx.meta["geoseg.quiet"] = quiet
    configure_logging(verbose, quiet)
