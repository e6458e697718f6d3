"""`geoseg batch`: a real checkpoint over the test area, resume, failures, bad AOI."""

from __future__ import annotations

import csv

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from geoseg.cli.main import cli
from geoseg.normalize import Normalizer
from tests.batch.conftest import X0, Y0, make_area, read_layer
from tests.fake_models import save_tiny_checkpoint


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The test area, a tiny real LinkNet checkpoint and an AOI over scenes a and b."""
    root = tmp_path_factory.mktemp("cli_batch")
    area = make_area(root / "area")
    norm = Normalizer.for_dtype("uint8", [0.5] * 3, [0.25] * 3)
    ckpt = save_tiny_checkpoint(root / "tiny.pt", normalizer=norm, tile=128)
    aoi = root / "aoi.gpkg"
    gpd.GeoDataFrame(
        geometry=[box(X0 + 20, Y0 - 140, X0 + 340, Y0 - 20)], crs="EPSG:32633"
    ).to_file(aoi)
    return root, area, ckpt, aoi


def test_batch_command_maps_resumes_and_reports_failures(setup):
    root, area, ckpt, aoi = setup
    listing = root / "scenes.txt"
    listing.write_text("\n".join(str(p) for p in area.scenes) + "\n")
    out = root / "out"
    args = [
        "batch",
        str(listing),
        "-o",
        str(out),
        "--model",
        str(ckpt),
        "--aoi",
        str(aoi),
        "--tile",
        "128",
        "--overlap",
        "32",
        "--device",
        "cpu",
    ]
    first = CliRunner().invoke(cli, [*args, "--scenes-in-flight", "2"])
    assert first.exit_code == 0, first.output
    assert "4 scenes: 2 mapped (2 now, 0 earlier), 0 failed, 2 outside the AOI" in first.output
    roads = read_layer(out / "roads.gpkg")
    assert roads.crs == "EPSG:32633"
    assert roads.geometry.within(box(X0 + 20, Y0 - 140, X0 + 340, Y0 - 20).buffer(1e-6)).all()
    for name in ("masks.vrt", "summary.csv", "overview.png", "roads.qml"):
        assert (out / name).is_file(), name

    garbage = root / "broken.tif"
    garbage.write_bytes(b"\x00" * 100)
    again = CliRunner().invoke(cli, [*args, str(garbage)])
    assert again.exit_code == 1
    assert "2 mapped (0 now, 2 earlier), 1 failed" in again.output
    assert "failed: broken: " in again.output and "broken.tif" in again.output
    with open(out / "summary.csv", newline="") as fh:
        rows = {r["scene"]: r for r in csv.DictReader(fh)}
    assert rows["broken"]["status"] == "failed" and rows["a"]["status"] == "done"


def test_aoi_outside_every_scene_is_one_clear_error(setup):
    root, area, ckpt, _ = setup
    far = root / "far.geojson"
    gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10)], crs="EPSG:4326").to_file(far)
    result = CliRunner().invoke(
        cli,
        [
            "batch",
            *map(str, area.scenes),
            "-o",
            str(root / "o2"),
            "--model",
            str(ckpt),
            "--aoi",
            str(far),
        ],
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {far}: the AOI intersects none of the 4 scenes")
    assert len(result.output.strip().splitlines()) == 1


def test_missing_model_is_a_usage_error(setup):
    _, area, _, _ = setup
    result = CliRunner().invoke(cli, ["batch", str(area.scenes[0]), "-o", "x"])
    assert result.exit_code == 2 and "--model" in result.output
