import pytest

from geoseg.config import config_from_dict


@pytest.fixture
def easy_config(road_scenes):
    """Call with section overrides -> RunConfig training on 3 easy 256 px scenes (tile 64)."""
    pairs = road_scenes(3)

    def make(model=None, data=None, train=None):
        cfg = {
            "model": {"arch": "linknet", "backbone": "resnet18", **(model or {})},
            "data": {"scenes": [str(s) for s, _ in pairs], "masks": [str(m) for _, m in pairs],
                     "tile": 64, "batch_size": 8, "samples_per_epoch": 32, **(data or {})},
            "train": {"epochs": 5, "lr": 1e-3, "schedule": "cosine", **(train or {})},
        }
        return config_from_dict(cfg, "test")

    return make
