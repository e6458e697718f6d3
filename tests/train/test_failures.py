"""Training stops with one clear sentence instead of a traceback or a silent NaN model."""

import numpy as np
import pytest
from helpers import easy_road_scene, write_geotiff

from geoseg.config import config_from_dict
from geoseg.errors import BandMismatchError, TrainingError
from geoseg.train import train_model


def _cfg(scene, mask, **model):
    return config_from_dict(
        {
            "model": {"arch": "linknet", "backbone": "test_resnet", **model},
            "data": {
                "scenes": [str(scene)],
                "masks": [str(mask)],
                "tile": 32,
                "batch_size": 2,
                "samples_per_epoch": 4,
            },
            "train": {"epochs": 1},
        },
        "test",
    )


def test_nan_loss_stops_with_a_message(tmp_path):
    image, mask = easy_road_scene(64)
    bad = image.astype(np.float32)
    # a float scene whose pixels are all infinite (issue 13's one validity rule makes NaN
    # nodata, read as invalid and zeroed, so NaN pixels no longer reach the loss)
    bad[:, :, :] = np.inf
    bad[:, 0, 0] = 1.0  # one finite value so the value range can be measured
    scene = write_geotiff(tmp_path / "nan.tif", bad)
    m = write_geotiff(tmp_path / "m.tif", mask)
    with pytest.raises(TrainingError, match="loss became NaN/inf at epoch 1, step 1"):
        train_model(
            _cfg(scene, m), models_dir=tmp_path / "models", out_dir=tmp_path / "run", device="cpu"
        )
    assert not list((tmp_path / "models").glob("*.pt"))


def test_band_count_must_match_the_model(tmp_path):
    image, mask = easy_road_scene(64)
    scene = write_geotiff(tmp_path / "s.tif", image)
    m = write_geotiff(tmp_path / "m.tif", mask)
    with pytest.raises(BandMismatchError, match="s.tif: 3 band.* model.in_channels is 4"):
        train_model(
            _cfg(scene, m, in_channels=4),
            models_dir=tmp_path / "models",
            out_dir=tmp_path / "run",
            device="cpu",
        )
