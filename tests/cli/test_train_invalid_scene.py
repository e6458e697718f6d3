"""`geoseg train` refuses a scene without a single valid pixel (all NaN, all nodata)
before training starts, instead of training on zeros."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import geoseg.io.grid as grid
from geoseg.cli.main import cli
from geoseg.data.sources import RasterScene, has_valid_pixels
from geoseg.errors import DataError
from geoseg.io.grid import open_grid
from tests.helpers import easy_road_scene, write_geotiff

TINY = {
    "model": {"arch": "linknet", "backbone": "test_resnet"},
    "data": {"tile": 32, "batch_size": 2, "samples_per_epoch": 8},
    "train": {"epochs": 1},
}


def train(tmp_path, pairs):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    args = ["train", "-c", str(config), "--device", "cpu"]
    for scene, mask in pairs:
        args += ["--scenes", str(scene), "--masks", str(mask)]
    args += ["--models-dir", str(tmp_path / "models"), "-o", str(tmp_path / "run")]
    return CliRunner().invoke(cli, args)


def blank_scenes(tmp_path):
    """name -> a 64 px scene without valid pixels: all NaN, all nodata."""
    image, _ = easy_road_scene(64)
    nan = np.full(image.shape, np.nan, np.float32)
    nodata = np.full(image.shape, 7, np.uint8)
    return {
        "nan": write_geotiff(tmp_path / "nan.tif", nan),
        "nodata": write_geotiff(tmp_path / "nodata.tif", nodata, nodata=7),
    }


@pytest.mark.parametrize("kind", ["nan", "nodata"])
def test_train_refuses_a_scene_without_valid_pixels(tmp_path, kind):
    image, mask = easy_road_scene(64)
    good = write_geotiff(tmp_path / "good.tif", image)
    good_mask = write_geotiff(tmp_path / "good_mask.tif", mask)
    blank = blank_scenes(tmp_path)[kind]
    blank_mask = write_geotiff(tmp_path / "blank_mask.tif", mask)
    result = train(tmp_path, [(good, good_mask), (blank, blank_mask)])
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert str(blank) in lines[0] and "has no valid pixels" in lines[0]
    assert not list(tmp_path.rglob("*.pt"))  # no checkpoint written
    assert not (tmp_path / "run" / "metrics.csv").exists()  # training never started


def test_scene_with_a_few_valid_pixels_is_kept(tmp_path, monkeypatch):
    """Only rows far down hold data: found by reading on (several row bands here)."""
    monkeypatch.setattr(grid, "SCAN_PIXELS", 64 * 3 * 4)  # 4 rows per band
    image, mask = easy_road_scene(64)
    sparse = np.full(image.shape, np.nan, np.float32)
    sparse[:, 61, 30] = 0.5
    path = write_geotiff(tmp_path / "sparse.tif", sparse)
    assert has_valid_pixels(open_grid(path))
    scene = RasterScene(path, mask=write_geotiff(tmp_path / "m.tif", mask))
    assert scene.height == 64
    blank = blank_scenes(tmp_path)
    for path in blank.values():
        assert not has_valid_pixels(open_grid(path))
        with pytest.raises(DataError, match="has no valid pixels"):
            RasterScene(path, mask=tmp_path / "m.tif")
    # a scene that cannot hold invalid pixels is not read at all
    calls = []
    monkeypatch.setattr(grid, "read_pixels", lambda *a: calls.append(a))
    assert has_valid_pixels(open_grid(write_geotiff(tmp_path / "u8.tif", image)))
    assert calls == []
