"""compare_models: one row per config, scores equal to a direct evaluation, given checkpoints."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from tiny_configs import write_tiny_configs

from geoseg.checkpoint import load_checkpoint
from geoseg.compare import compare_models
from geoseg.compare.split import Sample
from geoseg.compare.table import markdown
from geoseg.errors import CheckpointError, ConfigError
from geoseg.evaluate import evaluate_pair, evaluate_pairs


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    """Three generated scenes in the sample_data layout (image, mask, centrelines)."""
    from geoseg.sample_data import generate_scene, write_scene

    folder = tmp_path_factory.mktemp("data")
    for i, name in enumerate(("a", "b", "c")):
        write_scene(generate_scene(96, 96, seed=10 + i), folder, name)
    return folder


@pytest.fixture(scope="module")
def compared(scenes, tmp_path_factory):
    """compare_models on the scenes: both configs trained for one step on CPU."""
    root = tmp_path_factory.mktemp("cmp")
    configs = write_tiny_configs(root)
    return compare_models(configs, scenes, out_dir=root / "out", device="cpu", progress=False)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_one_row_per_config_matching_a_direct_evaluation(compared, scenes):
    out = compared.out_dir
    rows = read_csv(out / "table.csv")
    assert [r["model"] for r in rows] == ["linknet_tiny", "dlinknet_tiny"]
    assert [r["architecture"] for r in rows] == ["linknet", "dlinknet"]
    assert {r["backbone"] for r in rows} == {"test_resnet"}
    # the split: last scene by name held out, never seen in training
    assert [s.name for s in compared.split.test] == ["c"]
    for row, run in zip(rows, compared.runs):
        ckpt = load_checkpoint(row["checkpoint"])
        assert row["trained"] == "True" and ckpt["arch"] == row["architecture"]
        assert str(scenes / "c.tif") not in ckpt["config"]["data"]["scenes"]
        assert len(ckpt["config"]["data"]["scenes"]) == 2
        for key in ("iou_accumulated", "iou_mean", "f1", "apls", "precision", "recall"):
            assert 0.0 <= float(row[key]) <= 1.0, key
        assert float(row["megapixels_per_s"]) > 0
        assert row["paper_iou_deepglobe"] == ""  # linknet/dlinknet are not in the paper

        from geoseg.models.registry import count_parameters
        from geoseg.predict import load_model

        assert int(row["params"]) == count_parameters(load_model(ckpt).module)

        pred_dir = out / "predictions" / row["model"]
        direct = evaluate_pairs([(pred_dir / "c_mask.tif", scenes / "c_mask.tif")]).summary()
        assert math.isclose(
            float(row["iou_accumulated"]), direct["pixel"]["accumulated"]["iou"], abs_tol=1e-12
        )
        assert math.isclose(float(row["iou_mean"]), direct["pixel"]["mean"]["iou"], abs_tol=1e-12)
        assert math.isclose(float(row["f1"]), direct["pixel"]["accumulated"]["f1"], abs_tol=1e-12)
        graph = evaluate_pair(pred_dir / "c_roads.gpkg", scenes / "c_roads.gpkg")
        assert math.isclose(float(row["apls"]), graph.scores["apls"], abs_tol=1e-12)
        assert compared.references == {"c": "centrelines"}
        assert compared.device.startswith("cpu")


def test_table_files(compared):
    out = compared.out_dir
    assert set(compared.outputs) == {"markdown", "csv", "chart"}
    md = (out / "table.md").read_text()
    assert md.count("| linknet_tiny | linknet | test_resnet |") == 1
    assert md.count("| dlinknet_tiny | dlinknet | test_resnet |") == 1
    assert "not measured here" in md and "road centrelines" in md
    png = (out / "chart.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert not [p for p in out.rglob(".*partial*")]  # nothing left half-written


def test_given_checkpoints_are_used_without_training(compared, scenes, tmp_path, monkeypatch):
    import geoseg.train

    def no_training(*a, **k):
        raise AssertionError("train_model called although checkpoints were given")

    monkeypatch.setattr(geoseg.train, "train_model", no_training)
    configs = write_tiny_configs(tmp_path)
    given = [str(r.checkpoint) for r in compared.runs]
    # given in the other order: matched by architecture and backbone
    result = compare_models(
        configs,
        scenes,
        checkpoints=given[::-1],
        out_dir=tmp_path / "o",
        device="cpu",
        progress=False,
    )
    rows = read_csv(tmp_path / "o" / "table.csv")
    assert [r["checkpoint"] for r in rows] == given
    assert [r["trained"] for r in rows] == ["False", "False"]
    before = read_csv(compared.out_dir / "table.csv")
    for a, b in zip(rows, before):  # same weights, same scene: same scores
        assert float(a["iou_accumulated"]) == pytest.approx(float(b["iou_accumulated"]))
    assert not (tmp_path / "o" / "models").exists()
    assert [r.trained for r in result.runs] == [False, False]


def test_a_checkpoint_of_another_model_is_refused(compared, scenes, tmp_path):
    configs = write_tiny_configs(tmp_path, archs=("linknet",))
    dlinknet = str(compared.runs[1].checkpoint)
    with pytest.raises(CheckpointError, match="dlinknet/test_resnet checkpoint matches no"):
        compare_models(configs, scenes, checkpoints=[dlinknet], out_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_bad_config_fails_before_any_work(scenes, tmp_path):
    good = write_tiny_configs(tmp_path, archs=("linknet",))[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {arch: linknet, backbone: test_resnet}\ntrain: {lr: fast}\n")
    with pytest.raises(ConfigError, match="bad.yaml: train.lr"):
        compare_models([good, bad], scenes, out_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_reference_is_the_vectorized_mask_without_centrelines(scenes, tmp_path):
    from geoseg.compare.run import REFERENCE_VECTORIZED, reference_roads
    from geoseg.io.vector import read_roads

    sample = Sample("b", scenes / "b.tif", scenes / "b_mask.tif")
    path, kind = reference_roads(sample, tmp_path)
    assert kind == REFERENCE_VECTORIZED and path == tmp_path / "b_roads.gpkg"
    roads = read_roads(path)
    assert roads.crs == read_roads(scenes / "b_roads.gpkg").crs
    # the vectorized mask follows the true centrelines: APLS against them is high
    assert evaluate_pair(path, scenes / "b_roads.gpkg").scores["apls"] > 0.5


def test_markdown_shows_percentages_and_labels_the_reference(compared):
    text = markdown(compared)
    row = next(line for line in text.splitlines() if line.startswith("| linknet_tiny"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    run = compared.runs[0]
    assert cells[4] == f"{100 * run.scores()['iou_accumulated']:.2f}"
    assert cells[-1] == "–"  # no published number for linknet
    assert "Zhang et al. 2020, DeepGlobe" in text and "not measured here" in text
    assert "held out: c" in text


def test_each_config_trains_on_the_training_images_with_its_own_settings(scenes, tmp_path):
    from geoseg.compare.run import _run_config
    from geoseg.compare.split import split_data

    path = write_tiny_configs(tmp_path, archs=("dlinknet",))[0]
    cfg = _run_config(path, split_data(scenes), epochs=3)
    assert cfg.train.epochs == 3 and cfg.train.max_steps == 1
    assert cfg.data.scenes == [str(scenes / "a.tif"), str(scenes / "b.tif")]
    assert cfg.data.masks == [str(scenes / "a_mask.tif"), str(scenes / "b_mask.tif")]
    assert cfg.data.tile == 64 and cfg.predict.overlap == 8 and cfg.model.arch == "dlinknet"
    with pytest.raises(ConfigError, match="at least 1"):
        compare_models([path], scenes, epochs=0, out_dir=tmp_path / "o")
