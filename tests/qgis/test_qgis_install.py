"""`geoseg qgis install / uninstall / info`: the plugin copied into a QGIS profile, the
environment recorded, the plugin enabled; no real QGIS needed (and never the real HOME)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from geoseg import __version__
from geoseg.cli.main import cli
from geoseg.qgis_setup import ini_set, profiles_dir

QGIS_INI = """[General]
lastVersion=32216

[PythonPlugins]
processing=true
otherplugin=false

[locale]
userLocale=en_US
"""


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    """A QGIS config root of our own: QGIS_CUSTOM_CONFIG_PATH, as QGIS itself reads it."""
    monkeypatch.setenv("QGIS_CUSTOM_CONFIG_PATH", str(tmp_path / "qgis"))
    return tmp_path / "qgis" / "profiles"


def run(*args):
    result = CliRunner().invoke(cli, list(args))
    return result


def test_install_copies_records_and_enables(profiles, monkeypatch):
    settings = profiles / "default" / "QGIS" / "QGIS3.ini"
    settings.parent.mkdir(parents=True)
    settings.write_text(QGIS_INI)
    result = run("qgis", "install")
    assert result.exit_code == 0, result.output
    plugin = profiles / "default" / "python" / "plugins" / "geoseg"
    for name in (
        "__init__.py",
        "metadata.txt",
        "provider.py",
        "algorithms.py",
        "runner.py",
        "environment.py",
        "icon.svg",
    ):
        assert (plugin / name).is_file(), name
    assert not list(plugin.rglob("__pycache__"))
    meta = (plugin / "metadata.txt").read_text()
    assert f"version={__version__}\n" in meta and "hasProcessingProvider=yes" in meta
    env = json.loads((plugin / "environment.json").read_text())
    assert env["python"] == sys.executable and env["geoseg"] == __version__
    text = settings.read_text()
    assert "[PythonPlugins]\nprocessing=true\notherplugin=false\ngeoseg=true\n" in text
    assert text.replace("geoseg=true\n", "") == QGIS_INI  # every other line kept

    (plugin / "stale.py").write_text("")  # a reinstall replaces the whole folder
    assert run("qgis", "install").exit_code == 0
    assert not (plugin / "stale.py").exists() and settings.read_text().count("geoseg=") == 1

    result = run("qgis", "uninstall")
    assert result.exit_code == 0 and not plugin.exists()
    assert settings.read_text() == QGIS_INI
    assert not [p for p in plugin.parent.iterdir()]  # no temporary folders left


def test_install_records_pythonpath_of_a_checkout(profiles, monkeypatch):
    from geoseg.qgis_setup import PLUGIN_SOURCE

    checkout = str(PLUGIN_SOURCE.parents[1])
    monkeypatch.setenv("PYTHONPATH", checkout)
    assert run("qgis", "install").exit_code == 0
    env = json.loads((profiles / "default/python/plugins/geoseg/environment.json").read_text())
    assert env["pythonpath"] == checkout
    monkeypatch.setenv("PYTHONPATH", "")
    assert run("qgis", "install").exit_code == 0
    env = json.loads((profiles / "default/python/plugins/geoseg/environment.json").read_text())
    assert env["pythonpath"] is None


def test_install_never_replaces_a_foreign_plugin_and_checks_the_profile(profiles):
    foreign = profiles / "default" / "python" / "plugins" / "geoseg"
    foreign.mkdir(parents=True)
    (foreign / "metadata.txt").write_text("[general]\nname=somethingelse\n")
    result = run("qgis", "install")
    assert result.exit_code == 1 and "is not geoseg's plugin; not replacing it" in result.output
    assert (foreign / "metadata.txt").read_text() == "[general]\nname=somethingelse\n"
    result = run("qgis", "install", "--profile", "work")
    assert result.exit_code == 1
    assert "no QGIS profile 'work' (profiles there: default)" in result.output
    result = run("qgis", "install", "--profile", "../x")
    assert result.exit_code == 1 and "is not a QGIS profile name" in result.output


def test_profiles_dir_follows_qgis(tmp_path, monkeypatch):
    monkeypatch.delenv("QGIS_CUSTOM_CONFIG_PATH", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert profiles_dir() == tmp_path / ".local/share/QGIS/QGIS3/profiles"
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
        assert profiles_dir() == tmp_path / "data/QGIS/QGIS3/profiles"
    monkeypatch.setenv("QGIS_CUSTOM_CONFIG_PATH", str(tmp_path / "c"))
    assert profiles_dir() == tmp_path / "c" / "profiles"
    result = run("qgis", "install", "--profiles-dir", str(tmp_path / "explicit"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "explicit/default/python/plugins/geoseg/metadata.txt").is_file()


def test_ini_set_keeps_crlf_and_other_sections(tmp_path):
    path = tmp_path / "x.ini"
    path.write_bytes(b"[a]\r\nk=1\r\n\r\n[b]\r\nz=2\r\n")
    ini_set(path, "a", "geoseg", "true")
    assert path.read_bytes() == b"[a]\r\nk=1\r\ngeoseg=true\r\n\r\n[b]\r\nz=2\r\n"
    ini_set(path, "a", "geoseg", "false")
    assert path.read_bytes().count(b"geoseg=false") == 1
    ini_set(path, "c", "geoseg", None)  # removing from a missing section: nothing
    ini_set(path, "a", "geoseg", None)
    assert path.read_bytes() == b"[a]\r\nk=1\r\n\r\n[b]\r\nz=2\r\n"


def test_info_speaks_the_plugins_protocol():
    from geoseg.cli.qgis import PROTOCOL
    from geoseg.qgis.environment import MIN_PROTOCOL

    result = run("qgis", "info")
    info = json.loads(result.output)
    assert info["geoseg"] == __version__ and info["protocol"] == PROTOCOL >= MIN_PROTOCOL
    assert info["python"] == sys.executable


def test_plugin_modules_import_no_qgis_and_no_geoseg_internals():
    """Outside QGIS the plugin's stdlib half imports cleanly, pulling in neither qgis nor
    torch nor the rest of geoseg (QGIS's Python has none of them)."""
    code = (
        "import sys; import geoseg.qgis, geoseg.qgis.runner, geoseg.qgis.environment; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('qgis', 'torch', 'numpy', "
        "'rasterio', 'click') or (m.startswith('geoseg') and not m.startswith('geoseg.qgis') "
        "and m != 'geoseg')]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_install_onto_a_full_disk_says_so_in_a_few_words(tmp_path, monkeypatch):
    import errno
    import os
    import shutil
    from pathlib import Path

    from geoseg import qgis_setup
    from geoseg.errors import OutputError

    def full_copytree(src, dst, **kw):
        Path(dst).mkdir(parents=True)
        why = str(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        raise shutil.Error([(f"{src}/f{i}.py", f"{dst}/f{i}.py", why) for i in range(200)])

    monkeypatch.setattr(qgis_setup.shutil, "copytree", full_copytree)
    with pytest.raises(OutputError) as err:
        qgis_setup.install("default", tmp_path / "profiles")
    assert str(err.value).endswith(": cannot install the plugin (no space left on device)")
    assert len(str(err.value)) < 200
