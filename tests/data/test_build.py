"""Train/val splits and the bad inputs a user can hand to training."""

import numpy as np
import pytest
from helpers import easy_road_scene, write_geotiff
from PIL import Image

from geoseg.config import DataConfig
from geoseg.data import build_datasets, deepglobe_pairs
from geoseg.errors import DataError, GridMismatchError

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def _deepglobe(folder, ids, size=64, mask_ids=None):
    folder.mkdir(exist_ok=True)
    for i in ids:
        image, mask = easy_road_scene(size, seed=int(i))
        Image.fromarray(np.moveaxis(image, 0, -1)).save(folder / f"{i}_sat.jpg", quality=95)
    for i in ids if mask_ids is None else mask_ids:
        _, mask = easy_road_scene(size, seed=int(i))
        Image.fromarray(mask * 255).save(folder / f"{i}_mask.png")
    return folder


def test_scene_split_holds_out_whole_scenes(road_scenes):
    pairs = road_scenes(5, size=64)
    data = DataConfig(
        scenes=[str(s) for s, _ in pairs],
        masks=[str(m) for _, m in pairs],
        tile=32,
        samples_per_epoch=10,
        val_fraction=0.4,
    )
    built = build_datasets(data, mean=MEAN, std=STD)
    assert [s.name for s in built.train.sources] == ["scene0.tif", "scene1.tif", "scene2.tif"]
    assert [s.name for s in built.val.sources] == ["scene3.tif", "scene4.tif"]
    assert len(built.train) == 10 and len(built.val) == 2 * 4
    item = built.train[0]
    assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (1, 32, 32)
    assert item["image"].dtype.is_floating_point and set(item["mask"].unique().tolist()) <= {0, 1}


def test_single_scene_splits_into_rows_and_normalises_like_the_checkpoint(road_scenes):
    ((scene, mask),) = road_scenes(1, size=100)
    data = DataConfig(scenes=[str(scene)], masks=[str(mask)], tile=32, val_fraction=0.2)
    built = build_datasets(data, mean=MEAN, std=STD, augment=False)
    (train,), (val,) = built.train.sources, built.val.sources
    assert (train.height, val.height, val.row_off) == (80, 20, 80)
    # Validation tiles cover the strip (padded to the tile); values are (x/255 - mean)/std.
    first = built.val[0]
    import rasterio

    raw = rasterio.open(scene).read(window=((80, 100), (0, 32))).astype(np.float32)
    expect = (raw / 255.0 - np.array(MEAN)[:, None, None]) / np.array(STD)[:, None, None]
    np.testing.assert_allclose(first["image"][:, :20].numpy(), expect, atol=1e-5)


def test_uint16_scene_uses_percentiles_of_training_data(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(100, 2047, (4, 64, 64)).astype(np.uint16)
    mask = (rng.random((64, 64)) > 0.9).astype(np.uint8)
    data = DataConfig(
        scenes=[str(write_geotiff(tmp_path / "s.tif", image))],
        masks=[str(write_geotiff(tmp_path / "m.tif", mask))],
        tile=32,
    )
    norm = build_datasets(data, mean=MEAN, std=STD).normalizer
    assert norm.bands == 4 and 100 <= norm.low[0] < 200 and 1900 < norm.high[0] <= 2047
    assert norm.mean == (float(np.mean(MEAN)),) * 4


def test_deepglobe_folder_pairs_and_file_list_split(tmp_path):
    folder = _deepglobe(tmp_path / "dg", ["1", "2", "3", "4"])
    assert sorted(deepglobe_pairs(folder)) == ["1", "2", "3", "4"]
    data = DataConfig(deepglobe=str(folder), val_scenes=["3_sat.jpg", "4"], tile=64)
    built = build_datasets(data, mean=MEAN, std=STD)
    assert [s.name for s in built.val.sources] == ["3_sat.jpg", "4_sat.jpg"]
    assert len(built.train) == 2  # every training tile once per epoch


def test_deepglobe_unpaired_files_are_named(tmp_path):
    folder = _deepglobe(tmp_path / "dg", ["1", "2", "3"], mask_ids=["1", "5"])
    with pytest.raises(DataError, match=r"unpaired files.*2_sat.jpg, 3_sat.jpg, 5_mask.png"):
        deepglobe_pairs(folder)


def test_empty_inputs_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no training data"):
        build_datasets(DataConfig(), mean=MEAN, std=STD)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no '<id>_sat.jpg'"):
        build_datasets(DataConfig(deepglobe=str(tmp_path / "empty")), mean=MEAN, std=STD)
    with pytest.raises(DataError, match="DeepGlobe folder not found"):
        build_datasets(DataConfig(deepglobe=str(tmp_path / "nope")), mean=MEAN, std=STD)


def test_scene_without_labels_or_with_a_mismatched_mask(road_scenes, tmp_path):
    (scene, mask), (scene2, _) = road_scenes(2, size=64)
    with pytest.raises(DataError, match="needs a mask raster"):
        build_datasets(DataConfig(scenes=[str(scene)]), mean=MEAN, std=STD)
    with pytest.raises(DataError, match="2 scene\\(s\\) but 1 mask"):
        build_datasets(
            DataConfig(scenes=[str(scene), str(scene2)], masks=[str(mask)]), mean=MEAN, std=STD
        )
    other = write_geotiff(tmp_path / "big_mask.tif", np.zeros((80, 80), np.uint8))
    with pytest.raises(GridMismatchError, match="big_mask.tif: mask grid"):
        build_datasets(DataConfig(scenes=[str(scene)], masks=[str(other)]), mean=MEAN, std=STD)


def test_rows_split_keeps_every_scene_in_training(road_scenes):
    pairs = road_scenes(2, size=100)
    data = DataConfig(
        scenes=[str(s) for s, _ in pairs],
        masks=[str(m) for _, m in pairs],
        tile=32,
        val_fraction=0.25,
        val_split="rows",
    )
    built = build_datasets(data, mean=MEAN, std=STD)
    assert [(s.name, s.height) for s in built.train.sources] == [
        ("scene0.tif[train]", 75),
        ("scene1.tif[train]", 75),
    ]
    assert [(s.row_off, s.height) for s in built.val.sources] == [(75, 25), (75, 25)]
