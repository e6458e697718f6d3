"""geoseg installed as a package: a wheel works outside the clone, and an editable
install (as `make` does it) is not shadowed by the clone folder seen from its parent.

Both install with --no-deps into a fresh virtual environment that reaches the test
environment's dependencies through a .pth file, then run with `python -I` (or from the
clone's parent folder) so nothing of the checkout leaks in through PYTHONPATH or the
working folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("geoseg", "configs", "pyproject.toml", "README.md")

pytestmark = pytest.mark.slow
TINY_DEMO = """model: {arch: linknet, backbone: test_resnet, encoder_weights: null}
data: {tile: 64, batch_size: 4, samples_per_epoch: 8, val_split: rows}
train: {epochs: 1, max_steps: 2, amp: false, schedule: cosine, augment: false}
predict: {tile: 256, overlap: 32, batch_size: 8}
"""


def _copy_sources(dest: Path) -> Path:
    """The files a build needs, in a clone-like folder named geoseg (no build/ in REPO)."""
    dest.mkdir(parents=True)
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(
                src,
                dest / name,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        else:
            shutil.copy2(src, dest / name)
    return dest


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib.stdout.strip()) / "geoseg_test_deps.pth").write_text(
        "\n".join(sorted(deps)) + "\n"
    )
    return python


def _pip(python: Path, *args: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            *args,
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return env


def test_wheel_install_runs_the_demo_from_an_empty_folder(tmp_path):
    src = _copy_sources(tmp_path / "clone" / "geoseg")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("geoseg-*.whl")
    python = _venv(tmp_path / "venv")
    _pip(python, str(wheel))
    empty = tmp_path / "empty"
    empty.mkdir()

    listed = subprocess.run(
        [str(python), "-I", "-m", "geoseg", "configs"],
        cwd=empty,
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^unet_vgg16\s+unet/vgg16", listed.stdout, re.M)
    assert "site-packages" in listed.stdout  # the configs come from the installed package

    # a short budget: the demo's own steps (sample scenes generated, since a wheel has
    # none; train, predict, score, vectorize) with a tiny model and two training steps
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(TINY_DEMO)
    demo = subprocess.run(
        [str(python), "-I", "-m", "geoseg", "demo", "out", "-c", str(tiny), "--device", "cpu"],
        cwd=empty,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    header = re.search(
        r"held-out scene 'holdout' \((\d+) x (\d+) px, 0.5 m, EPSG:32633\)", demo.stdout
    )
    assert header, demo.stdout
    import rasterio

    with rasterio.open(empty / "out" / "sample_data" / "holdout.tif") as scene:
        assert (int(header.group(1)), int(header.group(2))) == (scene.height, scene.width)
    assert list((empty / "out" / "models").glob("linknet_test_resnet_*.pt"))
    assert (empty / "out" / "roads" / "holdout_roads.gpkg").is_file()

    # the clone's parent folder holds a folder named geoseg: the installed package wins
    parent = src.parent
    which = subprocess.run(
        [str(python), "-c", "import geoseg; print(geoseg.__file__)"],
        cwd=parent,
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert which.returncode == 0 and "site-packages" in which.stdout, which.stdout + which.stderr


def test_editable_install_is_not_shadowed_from_the_clones_parent(tmp_path):
    """`make` installs in setuptools' compat editable mode: a path entry for the clone, so
    `python` started in the clone's parent imports the package, not the clone folder
    (which the default 'lenient' mode's import hook loses to, as a namespace package)."""
    src = _copy_sources(tmp_path / "clone" / "geoseg")
    makefile = (REPO / "Makefile").read_text()
    (mode,) = re.findall(r"--config-settings editable_mode=(\w+)", makefile)
    python = _venv(tmp_path / "venv")
    _pip(python, "--config-settings", f"editable_mode={mode}", "-e", str(src))
    for cwd in (src.parent, tmp_path):
        run = subprocess.run(
            [str(python), "-c", "import geoseg, geoseg.cli.main; print(geoseg.__file__)"],
            cwd=cwd,
            capture_output=True,
            text=True,
            env=_env(),
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.strip() == str(src / "geoseg" / "__init__.py")
