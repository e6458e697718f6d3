"""Install geoseg's QGIS plugin (``geoseg/qgis/``) into a QGIS profile, and remove it.

A profile is ``<profiles>/<name>/`` where ``<profiles>`` is QGIS's own choice:
``$QGIS_CUSTOM_CONFIG_PATH/profiles`` when that is set, else
``~/.local/share/QGIS/QGIS3/profiles`` (``$XDG_DATA_HOME``; ``%APPDATA%\\QGIS\\QGIS3``
on Windows, ``~/Library/Application Support/QGIS/QGIS3`` on macOS).  Installing copies
the plugin to ``<profile>/python/plugins/geoseg``, records the Python that ran the
install in its ``environment.json`` (so the plugin runs this environment's geoseg
without it being on PATH), and enables it in ``<profile>/QGIS/QGIS3.ini``
(``[PythonPlugins] geoseg=true``), which is what QGIS and ``qgis_process plugins
enable`` read.  Everything is written under temporary names and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from geoseg import __version__
from geoseg.errors import ConfigError, OutputError
from geoseg.io.files import describe_os_error

PLUGIN_NAME = "geoseg"
PLUGIN_SOURCE = Path(__file__).resolve().parent / "qgis"
DEFAULT_PROFILE = "default"
ENV_FILE = "environment.json"
SETTINGS_SECTION = "PythonPlugins"


@dataclass(frozen=True)
class Installed:
    plugin_dir: Path
    settings: Path
    python: str
    pythonpath: str | None


def profiles_dir() -> Path:
    """Where QGIS keeps its profiles on this machine (see the module docstring)."""
    custom = os.environ.get("QGIS_CUSTOM_CONFIG_PATH", "").strip()
    if custom:
        return Path(custom).expanduser() / "profiles"
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", "").strip() or Path.home() / ".local" / "share")
    return base / "QGIS" / "QGIS3" / "profiles"


def profile_dir(
    profile: str = DEFAULT_PROFILE, profiles: str | Path | None = None, create: bool = False
) -> Path:
    """The folder of QGIS profile `profile` (the default profile may not exist yet)."""
    root = Path(profiles) if profiles is not None else profiles_dir()
    if not profile or Path(profile).name != profile or profile in (".", ".."):
        raise ConfigError(f"{profile!r} is not a QGIS profile name")
    path = root / profile
    if not path.is_dir():
        if not (create and profile == DEFAULT_PROFILE):
            names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
            known = f" (profiles there: {', '.join(names)})" if names else ""
            raise ConfigError(f"{path}: no QGIS profile {profile!r}{known}")
    return path


def plugin_dir(profile: Path) -> Path:
    return profile / "python" / "plugins" / PLUGIN_NAME


def settings_file(profile: Path) -> Path:
    return profile / "QGIS" / "QGIS3.ini"


def recorded_environment() -> tuple[str, str | None]:
    """(sys.executable, the folder holding this geoseg when it came from PYTHONPATH).

    The folder is recorded only when PYTHONPATH put geoseg on the path (a checkout run
    with ``PYTHONPATH=.``); an installed geoseg is found by its Python alone.
    """
    package_parent = str(Path(__file__).resolve().parents[1])
    entries = [
        str(Path(p).resolve())
        for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if p.strip()
    ]
    return sys.executable, package_parent if package_parent in entries else None


def _is_geoseg_plugin(folder: Path) -> bool:
    meta = folder / "metadata.txt"
    try:
        return any(
            line.strip() == f"name={PLUGIN_NAME}"
            for line in meta.read_text(encoding="utf-8").splitlines()
        )
    except OSError:
        return False


def _replace_dir(new: Path, target: Path) -> None:
    """Move `new` to `target`, replacing an older copy there (its removal comes last)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def install(profile: str = DEFAULT_PROFILE, profiles: str | Path | None = None) -> Installed:
    """Copy the plugin into `profile`, record this Python and enable the plugin."""
    folder = profile_dir(profile, profiles, create=True)
    target = plugin_dir(folder)
    if target.exists() and not _is_geoseg_plugin(target):
        raise OutputError(f"{target}: exists and is not geoseg's plugin; not replacing it")
    python, pythonpath = recorded_environment()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}")
        try:
            shutil.copytree(
                PLUGIN_SOURCE, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ENV_FILE)
            )
            meta = tmp / "metadata.txt"
            lines = meta.read_text(encoding="utf-8").splitlines()
            meta.write_text(
                "\n".join(
                    f"version={__version__}" if ln.startswith("version=") else ln for ln in lines
                )
                + "\n",
                encoding="utf-8",
            )
            (tmp / ENV_FILE).write_text(
                json.dumps(
                    {"python": python, "pythonpath": pythonpath, "geoseg": __version__}, indent=2
                )
                + "\n",
                encoding="utf-8",
            )
            _replace_dir(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        settings = settings_file(folder)
        ini_set(settings, SETTINGS_SECTION, PLUGIN_NAME, "true")
    except OSError as exc:
        raise OutputError(f"{target}: cannot install the plugin ({_reason(exc)})") from None
    return Installed(target, settings, python, pythonpath)


def _reason(exc: OSError) -> str:
    """The cause of a failed install in a few words: copytree's shutil.Error lists every
    file that failed (kilobytes of text); the first one's cause is the cause."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        errors = exc.args[0]
        why = str(errors[0][-1]) if errors and errors[0] else str(exc)
        return describe_os_error(RuntimeError(why)) or why.splitlines()[0]
    return exc.strerror or str(exc)


def uninstall(profile: str = DEFAULT_PROFILE, profiles: str | Path | None = None) -> Path | None:
    """Remove the plugin from `profile` and its enabled flag; the removed folder or None."""
    folder = profile_dir(profile, profiles)
    target = plugin_dir(folder)
    removed = None
    if target.exists():
        if not _is_geoseg_plugin(target):
            raise OutputError(f"{target}: is not geoseg's plugin; not removing it")
        try:
            trash = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, trash)
            shutil.rmtree(trash, ignore_errors=True)
        except OSError as exc:
            raise OutputError(
                f"{target}: cannot remove the plugin ({exc.strerror or exc})"
            ) from None
        removed = target
    settings = settings_file(folder)
    if settings.exists():
        ini_set(settings, SETTINGS_SECTION, PLUGIN_NAME, None)
    return removed


def ini_set(path: Path, section: str, key: str, value: str | None) -> None:
    """Set (or with None remove) ``key=value`` in ``[section]`` of an INI file such as
    QGIS3.ini, leaving every other line as it was; written atomically."""
    text = ""
    if path.exists():
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
            text = f.read()
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines()
    header = f"[{section}]"
    start = next((i for i, ln in enumerate(lines) if ln.strip() == header), None)
    if start is None:
        if value is None:
            return
        if lines and lines[-1].strip():
            lines.append("")
        lines += [header, f"{key}={value}"]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
            len(lines),
        )
        found = next(
            (
                i
                for i in range(start + 1, end)
                if "=" in lines[i] and lines[i].split("=", 1)[0].strip() == key
            ),
            None,
        )
        if found is not None:
            if value is None:
                del lines[found]
            else:
                lines[found] = f"{key}={value}"
        elif value is not None:
            last = max([i for i in range(start, end) if lines[i].strip()], default=start)
            lines.insert(last + 1, f"{key}={value}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape", newline="") as out:
            out.write(newline.join(lines) + newline)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
