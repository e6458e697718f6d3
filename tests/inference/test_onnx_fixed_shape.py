"""An ONNX graph with a fixed input shape: a tile it cannot take is refused at load in one
sentence naming the file and the tile to use, before any output folder exists; the tile
it takes predicts exactly as the graph with free dimensions (any --batch-size)."""

from __future__ import annotations

import fake_models
import numpy as np
import pytest
import rasterio
from helpers import run_cli, write_geotiff

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture
def models(tmp_path):
    from geoseg.export import export_onnx

    ckpt = fake_models.save_tiny_checkpoint(tmp_path / "model.pt")
    free = export_onnx(ckpt, tmp_path / "m.onnx", check_size=None).path
    graph = onnx.load(free)
    for dim, value in zip(graph.graph.input[0].type.tensor_type.shape.dim, [1, 3, 96, 96]):
        dim.ClearField("dim_param")
        dim.dim_value = value
    fixed = tmp_path / "fixed96.onnx"
    onnx.save(graph, fixed)
    return free, fixed


def scene(tmp_path):
    rng = np.random.default_rng(0)
    return write_geotiff(tmp_path / "scene.tif", rng.integers(0, 255, (3, 150, 150), np.uint8))


def test_a_tile_the_fixed_graph_cannot_take_is_refused_first(tmp_path, models):
    _, fixed = models
    res = run_cli("predict", scene(tmp_path), "--model", fixed, "--tile", 64, "-o", tmp_path / "p")
    assert res.exit_code == 1
    assert res.output.strip() == (
        f"Error: {fixed}: the model takes fixed 96×96 inputs (--tile 64 given; use --tile 96)"
    )
    assert not (tmp_path / "p").exists()  # no empty output folder left behind


def test_the_fixed_graph_predicts_as_the_free_one(tmp_path, models):
    free, fixed = models
    image = scene(tmp_path)
    for model, out, batch in ((free, "a", 4), (fixed, "b", 3)):
        res = run_cli("predict", image, "--model", model, "--tile", 96, "--overlap", 16,
                      "--batch-size", batch, "-o", tmp_path / out)  # fmt: skip
        assert res.exit_code == 0, res.output
    with (
        rasterio.open(tmp_path / "a/scene_prob.tif") as a,
        rasterio.open(tmp_path / "b/scene_prob.tif") as b,
    ):
        np.testing.assert_array_equal(a.read(), b.read())


def test_a_graph_whose_channels_disagree_with_its_metadata(tmp_path, models):
    from geoseg.checkpoint import load_checkpoint
    from geoseg.errors import CheckpointError

    free, _ = models
    graph = onnx.load(free)
    graph.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 4
    bad = tmp_path / "four.onnx"
    onnx.save(graph, bad)
    with pytest.raises(CheckpointError, match=r"four\.onnx: the model takes 4 input channel"):
        load_checkpoint(bad)
