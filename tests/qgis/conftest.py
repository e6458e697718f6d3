"""Real-QGIS fixtures: Debian's qgis_process.bin and PyQGIS under the system Python.

Without QGIS these tests skip, except where GEOSEG_REQUIRE_QGIS=1 (CI: .ci/run installs
QGIS and sets it), where a missing QGIS fails them.  QGIS runs with a configuration
folder of its own (QGIS_CUSTOM_CONFIG_PATH) and HOME in a temporary folder: the real
profile is never touched.  QGIS is started as few times as possible: the algorithm runs
go in parallel, and one PyQGIS session checks every output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import REPO

SAMPLE = REPO / "sample_data"
HERE = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"
REQUIRED = os.environ.get("GEOSEG_REQUIRE_QGIS", "") == "1"
# the tiny untrained model's probabilities sit around 0.4968 (about half of the pixels
# above): a threshold there gives the mask and road layer something to hold
TINY_THRESHOLD = "0.4968"


def _missing() -> str | None:
    if not shutil.which("qgis_process.bin"):
        return "qgis_process.bin not found (apt-get install qgis python3-qgis)"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} not found"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, env=_clean_env(os.environ)
    )
    if probe.returncode != 0:
        return "PyQGIS is not importable by /usr/bin/python3 (apt-get install python3-qgis)"
    return None


def snapshot(folder: Path) -> dict[str, str]:
    """name -> sha256 of every file in `folder`."""
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _clean_env(base) -> dict[str, str]:
    """The environment for QGIS processes: none of this venv's Python variables."""
    return {
        k: v
        for k, v in base.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSAFEPATH")
    }


@dataclass
class Qgis:
    root: Path  # a temporary folder with QGIS's config, HOME and the outputs
    env: dict[str, str]
    plugins: Path
    runs: dict = field(default_factory=dict)

    def process(self, name: str, *args: str, extra_env: dict | None = None) -> "Started":
        """Start qgis_process.bin ARGS; its stdout/stderr go to files (no pipe can fill)."""
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        out, err = logs / f"{name}.out", logs / f"{name}.err"
        with open(out, "w") as fo, open(err, "w") as fe:
            proc = subprocess.Popen(
                ["qgis_process.bin", *args],
                stdout=fo,
                stderr=fe,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                env={**self.env, **(extra_env or {})},
            )
        return Started(proc, out, err, time.perf_counter())

    def run(self, name: str, *args: str) -> subprocess.CompletedProcess:
        return self.process(name, *args).wait()


@dataclass
class Started:
    proc: subprocess.Popen
    out: Path
    err: Path
    t0: float

    def wait(self) -> subprocess.CompletedProcess:
        self.proc.wait(timeout=600)
        return subprocess.CompletedProcess(
            self.proc.args, self.proc.returncode, self.out.read_text(), self.err.read_text()
        )

    def json(self) -> dict:
        """The finished `... --json` run's JSON (plus _rc, _stderr, _stdout, _seconds)."""
        done = self.wait()
        try:
            data = json.loads(done.stdout)
        except ValueError:
            data = {}
        data.update(
            _rc=done.returncode,
            _stderr=done.stderr,
            _stdout=done.stdout,
            _seconds=round(time.perf_counter() - self.t0, 1),
        )
        return data


@pytest.fixture(scope="session")
def qgis(tmp_path_factory) -> Qgis:
    why = _missing()
    if why:
        if REQUIRED:
            pytest.fail(f"QGIS is required here (GEOSEG_REQUIRE_QGIS=1) but {why}")
        pytest.skip(why)
    from geoseg.qgis_setup import install

    root = tmp_path_factory.mktemp("qgis")
    runtime = root / "runtime"
    runtime.mkdir(mode=0o700)
    env = _clean_env(os.environ)
    # GDAL_PAM_ENABLED=NO: QGIS computes band statistics of input rasters and would save
    # them as .aux.xml files beside the sample scenes of the checkout
    env.update(
        QT_QPA_PLATFORM="offscreen",
        QGIS_CUSTOM_CONFIG_PATH=str(root / "config"),
        HOME=str(root / "home"),
        XDG_RUNTIME_DIR=str(runtime),
        GDAL_PAM_ENABLED="NO",
    )
    env.pop("GEOSEG_PYTHON", None)
    (root / "home").mkdir()
    done = install("default", root / "config" / "profiles")
    return Qgis(root, env, done.plugin_dir.parent)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from fake_models import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture(scope="session")
def runs(qgis, tiny_model) -> dict:
    """Enable the plugin, list the algorithms, and run each algorithm on the sample
    scenes (independent runs in parallel)."""
    out = qgis.root / "out"
    out.mkdir()
    t0 = time.perf_counter()
    result = {"inputs_before": snapshot(SAMPLE)}
    # `geoseg qgis install` enabled the plugin; show that qgis_process switches it too
    result["disable"] = qgis.run("disable", "plugins", "disable", "geoseg")
    result["enable"] = qgis.run("enable", "plugins", "enable", "geoseg")

    def alg(name, run_name=None, extra_env=None, **params):
        args = [f"{k}={v}" for k, v in params.items()]
        return qgis.process(
            run_name or name, "run", f"geoseg:{name}", "--json", "--", *args, extra_env=extra_env
        )

    model = dict(MODEL=tiny_model, TILE=256, THRESHOLD=TINY_THRESHOLD)
    started = {
        "list": qgis.process("list", "list", "--json"),
        "predict": alg(
            "predict",
            INPUT=SAMPLE / "collar.tif",
            **model,
            OUTPUT_PROB=out / "predict" / "prob.tif",
            OUTPUT_MASK=out / "predict" / "mask.tif",
            OUTPUT_ROADS=out / "predict" / "roads.gpkg",
        ),
        "vectorize": alg(
            "vectorize",
            INPUT=SAMPLE / "holdout_mask.tif",
            OUTPUT=out / "vectorize" / "holdout_roads.gpkg",
        ),
        "evaluate_pixels": alg(
            "evaluate",
            "evaluate_pixels",
            PREDICTION=SAMPLE / "holdout_mask.tif",
            TRUTH=SAMPLE / "holdout_roads.gpkg",
            OUTPUT=out / "evaluate" / "pixels.gpkg",
        ),
        "missing_geoseg": alg(
            "vectorize",
            "missing_geoseg",
            extra_env={"GEOSEG_PYTHON": "/nonexistent/python"},
            INPUT=SAMPLE / "holdout_mask.tif",
            OUTPUT=out / "never.gpkg",
        ),
    }
    batch_args = [
        f"INPUT={SAMPLE / 'train_1.tif'}",
        f"INPUT={SAMPLE / 'train_2.tif'}",
        *[f"{k}={v}" for k, v in model.items()],
        f"OUTPUT={out / 'area'}",
    ]
    started["batch"] = qgis.process("batch", "run", "geoseg:batch", "--json", "--", *batch_args)
    result["vectorize"] = started.pop("vectorize").json()
    started["evaluate_lines"] = alg(
        "evaluate",
        "evaluate_lines",
        PREDICTION=out / "vectorize" / "holdout_roads.gpkg",
        TRUTH=SAMPLE / "holdout_roads.gpkg",
        OUTPUT=out / "evaluate" / "lines.gpkg",
    )
    result["list"] = started.pop("list").wait()
    for name, run in started.items():
        result[name] = run.json()
    result["seconds"] = time.perf_counter() - t0
    result["out"] = out
    return result


@pytest.fixture(scope="session")
def inspection(qgis, runs, tiny_model) -> dict:
    """One PyQGIS session that loads every output, cancels a predict run and renders the
    styled roads (tests/qgis/pyqgis_inspect.py)."""
    out = runs["out"]
    spec = {
        "plugins": str(qgis.plugins),
        "sample": str(SAMPLE),
        "out": str(out),
        "model": str(tiny_model),
        "render": str(out / "render.png"),
        "cancel_dir": str(out / "cancel"),
    }
    spec_path = qgis.root / "inspect.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run(
        [SYSTEM_PYTHON, str(HERE / "pyqgis_inspect.py"), str(spec_path)],
        capture_output=True,
        text=True,
        env=qgis.env,
        cwd=qgis.root,
        timeout=600,
    )
    report = qgis.root / "inspect.json.out"
    assert report.exists(), (
        f"PyQGIS inspection failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    )
    result = json.loads(report.read_text())
    result["inputs_after"] = snapshot(SAMPLE)
    return result
