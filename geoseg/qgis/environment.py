"""Which Python runs geoseg for the plugin, and whether its geoseg is usable (stdlib only).

The environment is, in this order: the Processing setting (Settings ▸ Options ▸
Processing ▸ Providers ▸ geoseg ▸ Python), the ``GEOSEG_PYTHON`` environment variable,
or what ``geoseg qgis install`` recorded in ``environment.json`` beside this file (the
``sys.executable`` it ran under, and the folder holding its geoseg package when that
came from ``PYTHONPATH``).  :func:`check` asks that Python's geoseg for its plugin
protocol (``geoseg qgis info``) so that a missing or too old geoseg is one clear message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The `geoseg qgis info` protocol this plugin needs: 1 = --progress json, predict
# --prob-out/--mask-out, SIGTERM removes partial outputs.  geoseg.cli.qgis.PROTOCOL is
# the other side.
MIN_PROTOCOL = 1
RECORD = Path(__file__).resolve().parent / "environment.json"
ENV_VAR = "GEOSEG_PYTHON"
CHECK_TIMEOUT_S = 120  # a cold start on a busy machine can take a while

# Variables QGIS sets for its own Python and GDAL/PROJ (OSGeo4W, the macOS bundle): they
# would make another environment's Python or rasterio/pyproj load the wrong files.
QGIS_ONLY_VARS = (
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONEXECUTABLE",
    "VIRTUAL_ENV",
    "GDAL_DATA",
    "GDAL_DRIVER_PATH",
    "PROJ_LIB",
    "PROJ_DATA",
)


class GeosegUnavailable(Exception):
    """geoseg cannot be run: the message is one sentence for the QGIS user."""


@dataclass(frozen=True)
class Environment:
    python: str
    pythonpath: str | None = None
    source: str = "setting"

    def command(self, *args: str) -> list[str]:
        return [self.python, "-m", "geoseg", *args]

    @property
    def cwd(self) -> str | None:
        """Where the subprocess runs: the Python's own folder, so that a ``geoseg`` folder
        in QGIS's working directory is never imported instead (``python -m`` puts the
        working directory first on sys.path); arguments are absolute paths."""
        folder = os.path.dirname(self.python)
        return folder if os.path.isdir(folder) else None

    def child_env(self) -> dict[str, str]:
        """The subprocess environment: QGIS's own Python/GDAL variables removed, the
        recorded PYTHONPATH set, unbuffered UTF-8 output."""
        env = {k: v for k, v in os.environ.items() if k not in QGIS_ONLY_VARS}
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONSAFEPATH"] = "1"  # Python >= 3.11: no working directory on sys.path
        env["PYTHONIOENCODING"] = "utf-8"
        return env


HOW_TO_CONFIGURE = (
    "run `geoseg qgis install` in the Python environment that has geoseg, or set "
    "Settings > Options > Processing > Providers > geoseg > Python"
)


def resolve(setting: str | None = None, record: Path = RECORD) -> Environment:
    """The configured environment (see the module docstring); raises when there is none."""
    if setting and setting.strip():
        return Environment(setting.strip(), None, "Processing setting")
    if os.environ.get(ENV_VAR, "").strip():
        return Environment(os.environ[ENV_VAR].strip(), None, ENV_VAR)
    if record.is_file():
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            return Environment(
                str(data["python"]), data.get("pythonpath") or None, "geoseg qgis install"
            )
        except (OSError, ValueError, KeyError, TypeError):
            raise GeosegUnavailable(f"{record}: unreadable; {HOW_TO_CONFIGURE}") from None
    raise GeosegUnavailable(f"geoseg is not configured: {HOW_TO_CONFIGURE}")


def popen_flags() -> dict:
    """No console window per run on Windows."""
    if sys.platform == "win32":
        return {"creationflags": getattr(subprocess, "CREATE_NO_WINDOW", 0)}
    return {}


_CHECKED: dict[Environment, dict] = {}


def check(env: Environment, timeout: float = CHECK_TIMEOUT_S) -> dict:
    """``geoseg qgis info`` of `env` as a dict (cached once it succeeded), or one clear
    GeosegUnavailable: no such Python, no geoseg in it, or a geoseg too old."""
    if env in _CHECKED:
        return _CHECKED[env]
    where = f"{env.python} (from {env.source})"
    try:
        proc = subprocess.run(
            env.command("qgis", "info"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env.child_env(),
            cwd=env.cwd,
            timeout=timeout,
            **popen_flags(),
        )
    except FileNotFoundError:
        raise GeosegUnavailable(
            f"geoseg: Python {where} does not exist; {HOW_TO_CONFIGURE}"
        ) from None
    except PermissionError:
        raise GeosegUnavailable(
            f"geoseg: Python {where} cannot be run; {HOW_TO_CONFIGURE}"
        ) from None
    except subprocess.TimeoutExpired:
        raise GeosegUnavailable(
            f"geoseg: `{env.python} -m geoseg qgis info` did not answer within {timeout:.0f} s"
        ) from None
    except OSError as exc:
        raise GeosegUnavailable(f"geoseg: cannot run Python {where} ({exc})") from None
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        if "No module named geoseg" in output:
            raise GeosegUnavailable(
                f"geoseg is not installed in Python {where}; install it "
                f"there (pip install geoseg) or {HOW_TO_CONFIGURE}"
            )
        if "No such command" in output:
            version = _version(env, timeout)
            raise GeosegUnavailable(
                f"geoseg {version} in Python {where} is too old for this plugin (it has no "
                f"`geoseg qgis` command); upgrade geoseg there and run `geoseg qgis install`"
            )
        last = [line for line in output.splitlines() if line.strip()][-1:] or ["no output"]
        raise GeosegUnavailable(f"geoseg in Python {where} does not start: {last[0].strip()}")
    try:
        info = json.loads(proc.stdout)
        protocol = int(info["protocol"])
    except (ValueError, KeyError, TypeError):
        raise GeosegUnavailable(
            f"geoseg in Python {where}: `geoseg qgis info` gave no protocol; upgrade geoseg there"
        ) from None
    if protocol < MIN_PROTOCOL:
        raise GeosegUnavailable(
            f"geoseg {info.get('geoseg', '?')} in Python {where} is too old for this plugin "
            f"(protocol {protocol}, needs {MIN_PROTOCOL}); upgrade geoseg there"
        )
    _CHECKED[env] = info
    return info


def _version(env: Environment, timeout: float) -> str:
    try:
        proc = subprocess.run(
            env.command("--version"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env.child_env(),
            cwd=env.cwd,
            timeout=timeout,
            **popen_flags(),
        )
        return proc.stdout.strip().split()[-1] if proc.returncode == 0 else "?"
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"
