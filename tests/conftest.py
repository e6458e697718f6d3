"""Shared fixtures: tiny seeded rasters with a real CRS and transform, built in code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import REALDATA, easy_road_scene, write_geotiff  # noqa: F401 (re-exported)

# --------------------------------------------------------------------------- a clean home
# The suite runs with HOME pointing at an empty temporary folder (and the caches of
# matplotlib & co. in another one), so a test that writes into the user's home — the
# default models directory ~/.local/share/geoseg/models, say — is caught: at the end,
# anything in that HOME, or any new top-level entry in the repository, fails the run.
_CLEAN: dict = {}
_REPO_ROOT = Path(__file__).resolve().parents[1]
_ALLOWED_NEW = {".pytest_cache", ".hypothesis", "__pycache__", "build", "geoseg.egg-info"}


def pytest_configure(config):
    import os
    import tempfile

    if _CLEAN or hasattr(config, "workerinput"):
        return
    base = Path(tempfile.mkdtemp(prefix="geoseg-tests-"))
    home, cache = base / "home", base / "cache"
    home.mkdir()
    cache.mkdir()
    _CLEAN.update(
        base=base,
        home=home,
        real_home=os.environ.get("HOME"),
        repo=set(p.name for p in _REPO_ROOT.iterdir()),
    )
    os.environ["HOME"] = str(home)
    for var in ("GEOSEG_MODELS", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        os.environ.pop(var, None)
    os.environ["XDG_CACHE_HOME"] = str(cache)
    os.environ["MPLCONFIGDIR"] = str(cache / "matplotlib")
    # build tools that the wheel test's pip may start keep their settings there too
    os.environ.setdefault("RUSTUP_HOME", str(cache / "rustup"))
    os.environ.setdefault("CARGO_HOME", str(cache / "cargo"))


@pytest.fixture(autouse=True)
def _nothing_in_home(request):
    """Name the first test after which something appeared in the temporary HOME."""
    yield
    if _CLEAN and "culprit" not in _CLEAN and any(_CLEAN["home"].iterdir()):
        _CLEAN["culprit"] = request.node.nodeid


def written_outside_temp() -> list[str]:
    """What the tests wrote into HOME or the repository's top level (empty when clean)."""
    if not _CLEAN:
        return []
    found = [str(p) for p in sorted(_CLEAN["home"].rglob("*"))]
    new = set(p.name for p in _REPO_ROOT.iterdir()) - _CLEAN["repo"] - _ALLOWED_NEW
    return found + [str(_REPO_ROOT / n) for n in sorted(new)]


def pytest_sessionfinish(session, exitstatus):
    import shutil

    if not _CLEAN:
        return
    stray = written_outside_temp()
    if stray:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = (
            "tests wrote outside temporary folders (HOME was an empty temporary folder): "
            + ", ".join(stray[:10])
            + (" ..." if len(stray) > 10 else "")
        )
        if "culprit" in _CLEAN:
            text += f"; first seen after {_CLEAN['culprit']}"
        if reporter is not None:
            reporter.write_line("ERROR: " + text, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    shutil.rmtree(_CLEAN["base"], ignore_errors=True)


@pytest.fixture
def realdata() -> Path:
    """../shared/realdata, or skip the test when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present")
    return REALDATA


@pytest.fixture
def geotiff_factory(tmp_path):
    """Call with an array (and optional crs/res/nodata) to get a GeoTIFF path."""
    counter = iter(range(10_000))

    def make(array: np.ndarray, name: str | None = None, **kw) -> Path:
        return write_geotiff(tmp_path / (name or f"r{next(counter)}.tif"), array, **kw)

    return make


@pytest.fixture
def road_scenes(tmp_path):
    """Call with n -> list of (scene.tif, mask.tif) paths of easy road scenes (UTM 33N)."""

    def make(n: int = 2, size: int = 256, seed: int = 0) -> list[tuple[Path, Path]]:
        out = []
        for i in range(n):
            image, mask = easy_road_scene(size, seed + i)
            img = write_geotiff(tmp_path / f"scene{seed + i}.tif", image)
            msk = write_geotiff(tmp_path / f"scene{seed + i}_mask.tif", mask)
            out.append((img, msk))
        return out

    return make


@pytest.fixture
def easy_config(road_scenes):
    """Call with section overrides -> RunConfig training on 3 easy scenes (256 px, tile 64)."""
    from geoseg.config import config_from_dict

    def make(model=None, data=None, train=None, size=256):
        pairs = road_scenes(3, size=size)
        cfg = {
            "model": {"arch": "linknet", "backbone": "resnet18", **(model or {})},
            "data": {
                "scenes": [str(s) for s, _ in pairs],
                "masks": [str(m) for _, m in pairs],
                "tile": 64,
                "batch_size": 8,
                "samples_per_epoch": 32,
                **(data or {}),
            },
            "train": {"epochs": 5, "lr": 1e-3, "schedule": "cosine", **(train or {})},
        }
        return config_from_dict(cfg, "test")

    return make
