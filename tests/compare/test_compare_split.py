"""split_data: layouts, held-out rules, and one-line errors for unusable folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import write_geotiff

from geoseg.compare.split import split_data
from geoseg.errors import DataError


def scene_folder(folder, names, bands=3):
    for name in names:
        write_geotiff(folder / f"{name}.tif", np.zeros((bands, 32, 32), np.uint8))
        write_geotiff(folder / f"{name}_mask.tif", np.zeros((32, 32), np.uint8))
    return folder


def test_last_scenes_by_name_are_held_out(tmp_path):
    scene_folder(tmp_path, ["s1", "s2", "s3", "s4", "s5", "s6"])
    (tmp_path / "s2_roads.gpkg").write_bytes(b"")  # only its presence matters here
    split = split_data(tmp_path)
    assert split.layout == "scenes"
    assert [s.name for s in split.train] == ["s1", "s2", "s3", "s4", "s5"]
    assert [s.name for s in split.test] == ["s6"]
    assert split.train[1].roads == tmp_path / "s2_roads.gpkg" and split.train[0].roads is None
    data = split.data_overrides()
    assert data["scenes"] == [str(tmp_path / f"s{i}.tif") for i in range(1, 6)]
    assert data["masks"][0] == str(tmp_path / "s1_mask.tif") and data["deepglobe"] is None
    assert "samples_per_epoch" not in data  # scenes: the config's own epoch length


def test_holdout_names_and_manifest_roles(tmp_path):
    scene_folder(tmp_path, ["a", "b", "c", "d"])
    split = split_data(tmp_path, holdout=["a.tif", "c"])
    assert [s.name for s in split.test] == ["a", "c"]
    assert [s.name for s in split.train] == ["b", "d"]
    with pytest.raises(DataError, match="not in the folder: zz"):
        split_data(tmp_path, holdout=["zz"])
    scene_folder(tmp_path, ["e"], bands=4)
    roles = {"a": "train", "b": "holdout", "c": "train", "d": "nodata", "e": "multiband"}
    (tmp_path / "manifest.json").write_text(
        json.dumps({"scenes": [{"name": n, "role": r} for n, r in roles.items()]})
    )
    split = split_data(tmp_path)
    assert [s.name for s in split.train] == ["a", "c"]
    assert [s.name for s in split.test] == ["b", "d"]
    assert "left out for their bands: e" in split.rule


def test_deepglobe_layout(tmp_path):
    import rasterio

    for i in ("104", "113", "200"):
        for suffix, count in (("sat", 3), ("mask", 1)):
            with rasterio.open(
                tmp_path / f"{i}_{suffix}.png",
                "w",
                driver="PNG",
                width=16,
                height=16,
                count=count,
                dtype="uint8",
            ) as dst:
                dst.write(np.zeros((count, 16, 16), np.uint8))
    split = split_data(tmp_path)
    assert split.layout == "deepglobe"
    assert [s.name for s in split.test] == ["200"]
    assert split.test[0].mask == tmp_path / "200_mask.png"
    data = split.data_overrides()
    assert data["scenes"] == [str(tmp_path / "104_sat.png"), str(tmp_path / "113_sat.png")]
    assert data["samples_per_epoch"] == 2 and data["deepglobe"] is None
    assert [s.name for s in split_data(tmp_path, holdout=["104_sat.png"]).test] == ["104"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "data folder not found"),
        ("empty", "no <name>.tif"),
        ("no_mask", "a.tif: no mask beside it"),
        ("one", "one image only"),
        ("bands", "b.tif: 4 band"),
    ],
)
def test_unusable_folders(tmp_path, case, message):
    folder = tmp_path / "d"
    if case != "missing":
        folder.mkdir()
    if case == "no_mask":
        write_geotiff(folder / "a.tif", np.zeros((3, 8, 8), np.uint8))
    if case == "one":
        scene_folder(folder, ["a"])
    if case == "bands":
        scene_folder(folder, ["a", "c"])
        scene_folder(folder, ["b"], bands=4)
    with pytest.raises(DataError, match=message):
        split_data(folder)
