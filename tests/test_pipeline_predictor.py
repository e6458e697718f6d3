"""map_scene with a custom predictor: predict options beside it are an error naming
them (they would not reach it), and predict_step carries them instead."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from fake_models import Brightness
from helpers import easy_road_scene, write_geotiff

from geoseg import pipeline
from geoseg.cli.flags import cli_message
from geoseg.errors import ParameterError


@pytest.fixture
def scene(tmp_path):
    image, _ = easy_road_scene(192, seed=3)
    return write_geotiff(tmp_path / "scene.tif", image)


def _never(scene, out_dir):
    raise AssertionError("the predictor must not run")


@pytest.mark.parametrize(
    "model,options,named",
    [
        (None, {"tile": 64}, ("tile",)),
        (None, {"tile": 64, "overlap": 8, "tta": "d4", "threshold": 0.3},
         ("tile", "overlap", "tta", "threshold")),
        (Brightness(), {}, ("model",)),
    ],
)  # fmt: skip
def test_options_beside_a_custom_predictor_are_refused_by_name(
    scene, tmp_path, model, options, named
):
    out = tmp_path / "out"
    with pytest.raises(ParameterError) as err:
        pipeline.map_scene(scene, model, out, roads=out / "r.gpkg", predictor=_never, **options)
    assert err.value.params == named and err.value.param == named[0]
    message = str(err.value)
    assert message.startswith(", ".join(named)) and "custom predictor" in message
    assert "\n" not in message
    assert not out.exists()  # refused before any work


def test_predict_step_carries_the_options_a_custom_predictor_ignores(scene, tmp_path):
    """The documented way: options given to predict_step apply, as map_scene's own do."""
    direct = pipeline.map_scene(
        scene, Brightness(), tmp_path / "a", tile=64, overlap=8, outputs="mask", device="cpu"
    )
    calls = []
    step = pipeline.predict_step(Brightness(), tile=64, overlap=8, outputs="mask", device="cpu")

    def counted(path, out_dir):
        calls.append(path)
        return step(path, out_dir)

    stepped = pipeline.map_scene(scene, out_dir=tmp_path / "b", predictor=counted)
    assert calls == [scene]
    assert stepped.prediction is not None and stepped.prediction.n_tiles == 16  # tile 64
    assert stepped.prob_path is None and sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "scene_mask.tif"
    ]  # outputs="mask" reached the step
    with rasterio.open(direct.mask_path) as a, rasterio.open(stepped.mask_path) as b:
        assert np.array_equal(a.read(), b.read())
        assert b.read().any()


def test_the_cli_spelling_of_the_refusal_names_the_flag(scene, tmp_path):
    with pytest.raises(ParameterError) as err:
        pipeline.map_scene(scene, out_dir=tmp_path, predictor=_never, batch_size=2)
    assert cli_message(err.value).startswith("--batch-size is not used with a custom predictor")
