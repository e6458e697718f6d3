"""The plugin's QGIS-free half: finding geoseg, checking it, running it with progress and
Cancel.  Real geoseg subprocesses and a stand-in for QgsProcessingFeedback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import REPO

from geoseg.io.files import temp_name
from geoseg.qgis import environment, runner
from geoseg.qgis.environment import Environment, GeosegUnavailable


class Feedback:
    """Records what QgsProcessingFeedback would have been told."""

    def __init__(self, cancel_when=None):
        self.calls: list[tuple[str, object]] = []
        self.cancel_when = cancel_when
        self.canceled = False

    def isCanceled(self):  # noqa: N802
        return self.canceled

    def setProgress(self, value):  # noqa: N802
        self.calls.append(("progress", value))
        if self.cancel_when and self.cancel_when(value):
            self.canceled = True

    def _record(name):
        return lambda self, text, *a: self.calls.append((name, text))

    setProgressText = _record("text")  # noqa: N815
    pushInfo = _record("info")  # noqa: N815
    pushWarning = _record("warning")  # noqa: N815
    pushDebugInfo = _record("debug")  # noqa: N815
    reportError = _record("error")  # noqa: N815

    def of(self, kind):
        return [v for k, v in self.calls if k == kind]


@pytest.fixture
def env():
    """This interpreter, with this checkout first (as `geoseg qgis install` records it)."""
    return Environment(sys.executable, str(REPO), "test")


def test_relay_maps_each_kind_of_line():
    fb, result = Feedback(), runner.RunResult(0)
    for line in [
        '{"progress": 0.25, "message": "scene: 5/20 tiles"}',
        '{"level": "info", "message": "using checkpoint x"}',
        '{"level": "warning", "message": "odd"}',
        '{"level": "error", "message": "scene b failed"}',
        '{"level": "debug", "message": "d"}',
        "roads: out.gpkg (3 lines)",
        "",
        "{not json",
        "Error: scene.tif: file not found",
    ]:
        runner.relay(line + "\n", fb, result)
    assert fb.of("progress") == [25.0] and fb.of("text") == ["scene: 5/20 tiles"]
    assert fb.of("info") == ["using checkpoint x", "roads: out.gpkg (3 lines)", "{not json"]
    assert fb.of("warning") == ["odd"] and fb.of("error") == ["scene b failed"]
    assert fb.of("debug") == ["d"]
    assert result.error == "scene.tif: file not found"


def test_partial_pattern_is_geoseg_temp_name(tmp_path):
    out = tmp_path / "roads.gpkg"
    tmp = temp_name(out)
    for path in (
        tmp,
        tmp.with_suffix(".qml"),
        tmp_path / ".roadsx.partial-1.gpkg",
        tmp_path / "roads.gpkg.bak",
    ):
        path.write_text("x")
    assert runner.partial_files(out) == sorted([tmp, tmp.with_suffix(".qml")])


def test_resolve_order(tmp_path, monkeypatch):
    record = tmp_path / "environment.json"
    record.write_text(json.dumps({"python": "/env/bin/python", "pythonpath": "/src"}))
    monkeypatch.delenv(environment.ENV_VAR, raising=False)
    assert environment.resolve("", record) == Environment(
        "/env/bin/python", "/src", "geoseg qgis install"
    )
    monkeypatch.setenv(environment.ENV_VAR, "/other/python")
    assert environment.resolve(None, record).python == "/other/python"
    assert environment.resolve(" /set/python ", record) == Environment(
        "/set/python", None, "Processing setting"
    )
    monkeypatch.delenv(environment.ENV_VAR)
    with pytest.raises(
        GeosegUnavailable, match="geoseg is not configured: run `geoseg qgis install`"
    ):
        environment.resolve("", tmp_path / "missing.json")


def test_child_env_drops_qgis_python_variables(monkeypatch):
    monkeypatch.setenv("PYTHONHOME", "/qgis/apps/Python39")
    monkeypatch.setenv("PROJ_LIB", "/qgis/share/proj")
    monkeypatch.setenv("PYTHONPATH", "/qgis/python")
    child = Environment("/env/python", "/src").child_env()
    assert "PYTHONHOME" not in child and "PROJ_LIB" not in child
    assert child["PYTHONPATH"] == "/src" and child["PYTHONUNBUFFERED"] == "1"
    assert "PYTHONPATH" not in Environment("/env/python").child_env()


def test_check_accepts_this_geoseg(env):
    info = environment.check(env)
    assert info["protocol"] >= environment.MIN_PROTOCOL


def test_check_gives_one_sentence_for_missing_or_old_geoseg(tmp_path):
    with pytest.raises(
        GeosegUnavailable, match=r"Python /nonexistent/python \(from test\) does not exist"
    ):
        environment.check(Environment("/nonexistent/python", None, "test"))
    # a Python without geoseg: a bare virtual environment
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True
    )
    bare = tmp_path / "bare" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    with pytest.raises(GeosegUnavailable, match="geoseg is not installed in Python"):
        environment.check(Environment(str(bare), None, "test"))
    # an old geoseg: a click group without the `qgis` command, like geoseg before it
    old = tmp_path / "old" / "geoseg"
    old.mkdir(parents=True)
    (old / "__init__.py").write_text("")
    (old / "__main__.py").write_text(
        "import click\n@click.group()\n@click.version_option('0.0.9', prog_name='geoseg')\n"
        "def cli():\n    pass\n@cli.command()\ndef predict():\n    pass\ncli()\n"
    )
    with pytest.raises(GeosegUnavailable) as exc:
        environment.check(Environment(sys.executable, str(old.parent), "test"))
    assert str(exc.value) == (
        f"geoseg 0.0.9 in Python {sys.executable} (from test) is too old for this plugin (it "
        "has no `geoseg qgis` command); upgrade geoseg there and run `geoseg qgis install`"
    )


def test_run_relays_progress_and_output(env, tmp_path, geotiff_factory):
    mask = np.zeros((256, 256), np.uint8)
    mask[100:108, :] = 1
    src = geotiff_factory(mask, "mask.tif")
    out = tmp_path / "roads.gpkg"
    fb = Feedback()
    result = runner.run(
        env, ["vectorize", str(src), "-o", str(out), "--block-size", "64"], fb, [out]
    )
    assert result.returncode == 0 and out.is_file()
    values = fb.of("progress")
    assert len(values) >= 3 and values == sorted(values) and values[-1] == 100.0
    assert any(t.startswith("vectorize: ") for t in fb.of("text"))
    assert any(f"{out}: 1 lines" in line for line in fb.of("info"))


def test_run_failure_is_geosegs_one_line(env, tmp_path):
    with pytest.raises(runner.RunFailed) as exc:
        runner.run(
            env,
            ["vectorize", str(tmp_path / "nope.tif"), "-o", str(tmp_path / "r.gpkg")],
            Feedback(),
        )
    assert str(exc.value).startswith("geoseg vectorize failed: ")
    assert "nope.tif" in str(exc.value) and "\n" not in str(exc.value)


def test_cancel_stops_predict_and_leaves_nothing(env, tmp_path, geotiff_factory):
    from fake_models import save_tiny_checkpoint

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    scene = geotiff_factory(
        np.random.default_rng(0).integers(0, 255, (3, 1536, 1536), np.uint8), "big.tif"
    )
    out = tmp_path / "out"
    outputs = [out / "p.tif", out / "m.tif", out / "roads.gpkg"]
    fb = Feedback(cancel_when=lambda value: value > 0)
    start = time.monotonic()
    with pytest.raises(runner.RunCanceled, match="no partial output was kept"):
        runner.run(
            env,
            [
                "predict",
                str(scene),
                "-m",
                str(ckpt),
                "--tile",
                "64",
                "--overlap",
                "8",
                "-o",
                str(out),
                "--prob-out",
                str(outputs[0]),
                "--mask-out",
                str(outputs[1]),
                "--vector",
                str(outputs[2]),
            ],
            fb,
            outputs,
        )
    assert time.monotonic() - start < 120
    assert not out.exists()  # nothing left, not even the folder made for the run
    assert 0 < fb.of("progress")[-1] < 90
