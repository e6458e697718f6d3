from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner

from geoseg.cli.main import cli


def test_vectorize_writes_a_styled_shapefile(tmp_path, geotiff_factory):
    mask = np.zeros((160, 200), np.uint8)
    mask[76:85, 10:190] = 255
    mask[80:150, 96:105] = 255
    prob = np.where(mask > 0, 230, 20).astype(np.uint8)
    mpath = geotiff_factory(mask, name="mask.tif", crs="EPSG:32633", res=0.5)
    ppath = geotiff_factory(prob, name="prob.tif", crs="EPSG:32633", res=0.5)
    out = tmp_path / "out" / "roads.shp"
    result = CliRunner().invoke(
        cli,
        [
            "vectorize",
            str(mpath),
            "-o",
            str(out),
            "--prob",
            str(ppath),
            "--prune-m",
            "5",
            "--block-size",
            "64",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 lines, 4 nodes" in result.output
    roads = gpd.read_file(out)
    assert roads.crs.to_epsg() == 32633 and len(roads) == 3
    assert np.allclose(roads["mean_prob"], 230 / 255, atol=1e-6)
    assert (out.with_suffix(".prj")).exists() and (out.with_suffix(".qml")).exists()


def test_vectorize_rejects_a_non_mask_in_one_line(tmp_path, geotiff_factory):
    # an image, not a mask: its bands differ (issue 13: a 0.4 float raster is a soft mask
    # now, road at >= half its maximum; before it was refused here)
    image = np.zeros((3, 30, 30), np.uint8)
    image[0] = 90
    path = geotiff_factory(image, name="image.tif")
    out = tmp_path / "roads.gpkg"
    result = CliRunner().invoke(cli, ["vectorize", str(path), "-o", str(out)])
    assert result.exit_code == 1
    assert "not a road mask" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_vectorize_rejects_an_unknown_format_before_working(tmp_path, geotiff_factory):
    path = geotiff_factory(np.zeros((30, 30), np.uint8), name="mask.tif")
    result = CliRunner().invoke(cli, ["vectorize", str(path), "-o", str(tmp_path / "r.kml")])
    assert result.exit_code == 1 and "unknown vector format" in result.output


@pytest.mark.parametrize(
    "command,option,value,stated",
    [
        ("vectorize", "--prune-m", "-5", "x>=0"),
        ("vectorize", "--bridge-m", "-1", "x>=0"),
        ("vectorize", "--min-blob-m2", "-3", "x>=0"),
        ("vectorize", "--hole-m2", "-3", "x>=0"),
        ("vectorize", "--simplify-m", "-0.5", "x>=0"),
        ("vectorize", "--block-size", "10", "x>=64"),
        ("batch", "--snap", "-5", "x>=0"),
    ],
)
def test_out_of_range_options_are_refused_with_the_range_help_states(
    tmp_path, geotiff_factory, command, option, value, stated
):
    """The check and the help come from one click range: they cannot disagree."""
    help_text = CliRunner().invoke(cli, [command, "--help"]).output
    entry = help_text[help_text.index(option) :].split("\n  -")[0]  # this option's help
    assert stated in entry
    mask = geotiff_factory(np.zeros((32, 32), np.uint8))
    out = tmp_path / "roads.gpkg"
    args = (
        [command, str(mask), "-o", str(out)]
        if command == "vectorize"
        else [command, str(mask), "-o", str(tmp_path / "area"), "-m", "none.pt"]
    )
    result = CliRunner().invoke(cli, [*args, option, value])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output
    assert f"is not in the range {stated}" in result.output
    assert not out.exists() and not (tmp_path / "area").exists()
