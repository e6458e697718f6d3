"""`geoseg qgis`: install geoseg's Processing provider into QGIS (install, uninstall, info)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from geoseg import __version__
from geoseg.qgis_setup import install as do_install
from geoseg.qgis_setup import uninstall as do_uninstall

# What the plugin may rely on (geoseg/qgis/environment.py MIN_PROTOCOL is the other side):
# 1 = --progress json, predict --prob-out/--mask-out, SIGTERM removes partial outputs.
PROTOCOL = 1

profile_opt = click.option(
    "--profile", default="default", show_default=True, help="QGIS user profile to install into."
)
profiles_opt = click.option(
    "--profiles-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="QGIS profiles folder [default: $QGIS_CUSTOM_CONFIG_PATH/profiles, else "
    "~/.local/share/QGIS/QGIS3/profiles].",
)


@click.group("qgis")
def qgis() -> None:
    """geoseg inside QGIS: a Processing provider (toolbox, batch, Model Designer,
    qgis_process) with Predict roads, Vectorize road mask, Evaluate and Map an area.

    \b
    geoseg qgis install            # then restart QGIS
    qgis_process run geoseg:predict -- INPUT=scene.tif MODEL=model.pt ...
    """


@qgis.command("install")
@profile_opt
@profiles_opt
def install(profile: str, profiles_dir: Path | None) -> None:
    """Copy the plugin into a QGIS profile and enable it.

    The plugin runs this Python's geoseg (recorded now), so run the install from the
    environment that has geoseg and torch; run it again after upgrading geoseg.
    Restart QGIS afterwards (a running QGIS rewrites its settings when it exits).
    """
    done = do_install(profile, profiles_dir)
    click.echo(f"plugin:  {done.plugin_dir}")
    click.echo(f"enabled: {done.settings} [PythonPlugins] geoseg=true")
    extra = f" (PYTHONPATH {done.pythonpath})" if done.pythonpath else ""
    click.echo(f"python:  {done.python}{extra}")
    click.echo("restart QGIS: the algorithms are under geoseg in the Processing toolbox")


@qgis.command("uninstall")
@profile_opt
@profiles_opt
def uninstall(profile: str, profiles_dir: Path | None) -> None:
    """Remove the plugin from a QGIS profile."""
    removed = do_uninstall(profile, profiles_dir)
    click.echo(f"removed: {removed}" if removed else "the plugin was not installed there")


@qgis.command("info")
def info() -> None:
    """What the plugin asks this geoseg before running it (JSON)."""
    click.echo(
        json.dumps(
            {
                "geoseg": __version__,
                "protocol": PROTOCOL,
                "python": sys.executable,
                "package": str(Path(__file__).resolve().parents[1]),
            }
        )
    )
