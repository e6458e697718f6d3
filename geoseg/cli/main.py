"""The `geoseg` command group.

Commands live one per module under ``geoseg/cli/`` and are imported lazily (only the
one being run), so ``geoseg --help`` is instant and does not import torch.  Library
errors (:class:`geoseg.errors.GeoSegError`) become one-line messages with exit code 1;
``-v`` shows the traceback as well.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings
from importlib import import_module

import click

from geoseg import __version__
from geoseg.cli.flags import cli_message
from geoseg.errors import GeoSegError
from geoseg.io.files import describe_os_error, run_scope

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
    "export": "geoseg.cli.export:export",
    "qgis": "geoseg.cli.qgis:qgis",
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
        previous = _install_sigterm()
        try:
            with run_scope():
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except GeoSegError as exc:
            _traceback_if_verbose(ctx)
            raise click.ClickException(cli_message(exc)) from None
        except KeyboardInterrupt:
            raise click.ClickException("interrupted; no partial output was kept") from None
        except Terminated:
            _traceback_if_verbose(ctx)
            raise click.ClickException("terminated; no partial output was kept") from None
        except Exception as exc:  # noqa: BLE001 - no traceback without -v, for any error
            _traceback_if_verbose(ctx)
            raise click.ClickException(unexpected_error_message(exc)) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM so every output's cleanup runs (as on ^C)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _install_sigterm():
    """SIGTERM cleans up like SIGINT (only the main thread can install handlers)."""
    try:
        return signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:
        return None


def _traceback_if_verbose(ctx: click.Context) -> None:
    if ctx.meta.get("geoseg.verbose", 0) > 0:
        log.exception("traceback follows")


def unexpected_error_message(exc: BaseException) -> str:
    """One sentence for an error geoseg did not anticipate (no traceback without -v)."""
    if isinstance(exc, MemoryError):
        return "out of memory; use a smaller --tile or --batch-size (-v shows where it happened)"
    reason = describe_os_error(exc)
    filename = getattr(exc, "filename", None)
    if reason is not None and filename:
        return f"{filename}: {reason}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"unexpected error ({detail}); run with -v for the traceback"


def mute_native_stderr() -> None:
    """Send what C libraries print straight to file descriptor 2 (libtiff's
    "_tiffSeekProc: File too large." on a full disk, GDAL's default error printer) to
    /dev/null, while Python's own stderr — geoseg's messages, logs, progress bars — keeps
    the real one.  geoseg states the cause in one sentence; -v leaves fd 2 alone."""
    if getattr(mute_native_stderr, "done", False):
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (tests' captured streams): nothing native to mute
    if fd != 2:
        return
    sys.stderr.flush()
    real = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(
        real, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace"
    )
    mute_native_stderr.done = True  # type: ignore[attr-defined]
    mute_native_stderr.real_fd = real  # type: ignore[attr-defined]


def unmute_native_stderr() -> None:
    """Give file descriptor 2 back to the real stderr (``-v`` after the command name:
    the group muted it before the subcommand's options were parsed)."""
    real = getattr(mute_native_stderr, "real_fd", None)
    if real is None:
        return
    sys.stderr.flush()
    os.dup2(real, 2)
    mute_native_stderr.real_fd = None  # type: ignore[attr-defined]


def _more_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> None:
    """-v/-q given after the command name: add to the group's counts, reconfigure logging."""
    if not value:
        return
    meta = ctx.meta
    key = "geoseg.verbose" if param.name == "verbose" else "geoseg.quiet"
    meta[key] = meta.get(key, 0) + value
    if meta.get("geoseg.verbose", 0) > 0:
        unmute_native_stderr()
    configure_logging(meta.get("geoseg.verbose", 0), meta.get("geoseg.quiet", 0))


def with_verbosity_options(cmd: click.Command) -> click.Command:
    """Give a subcommand the group's -v/-q, so they work anywhere on the command line."""
    if getattr(cmd, "_geoseg_verbosity", False):
        return cmd
    taken = {o for p in cmd.params for o in getattr(p, "opts", [])}
    for short, long, text in (
        ("-v", "--verbose", "More output (-vv for debug); shows tracebacks."),
        ("-q", "--quiet", "Less output (warnings and errors only)."),
    ):
        if short not in taken and long not in taken:
            cmd.params.append(
                click.Option(
                    [short, long],
                    count=True,
                    expose_value=False,
                    is_eager=True,
                    callback=_more_verbosity,
                    help=text,
                )
            )
    cmd._geoseg_verbosity = True  # type: ignore[attr-defined]
    return cmd


def configure_logging(verbose: int, quiet: int) -> None:
    """geoseg's log level from -v/-q; under torchrun only rank 0 prints INFO lines (the
    other ranks print warnings and errors, marked with their rank)."""
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
    # GDAL/OGR messages (e.g. "_tiffSeekProc: File too large" from a writer thread) reach
    # Python logging through rasterio/pyogrio; unhandled, logging's last resort would print
    # them raw.  geoseg states the cause in its one sentence; -v shows them.
    for name in ("rasterio", "pyogrio", "fiona", "matplotlib"):
        lib = logging.getLogger(name)
        lib.handlers[:] = [handler] if verbose > 0 else [logging.NullHandler()]
        lib.propagate = False
    # Python warnings (rasterio's NotGeoreferencedWarning on a PNG...) as one log line,
    # not the raw "file.py:366: Warning: ..." with the library's source line
    warnings.showwarning = _log_warning


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = str(message).strip().splitlines()[0] if str(message).strip() else ""
    log.warning("%s (%s)", text, category.__name__)


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
    if verbose <= 0:
        mute_native_stderr()
    ctx.meta["geoseg.quiet"] = quiet
    configure_logging(verbose, quiet)
