"""`geoseg compare`: given checkpoints, the printed table, one-line errors."""

from __future__ import annotations

import csv

import fake_models
import pytest
from click.testing import CliRunner
from tiny_configs import write_tiny_configs

from geoseg.cli.main import cli


@pytest.fixture
def data(tmp_path):
    from geoseg.sample_data import generate_scene, write_scene

    folder = tmp_path / "data"
    for i, name in enumerate(("a", "b")):
        write_scene(generate_scene(64, 64, seed=20 + i), folder, name)
    return folder


def test_given_checkpoints_table_and_files(data, tmp_path, monkeypatch):
    import geoseg.train

    monkeypatch.setattr(geoseg.train, "train_model", lambda *a, **k: pytest.fail("trained"))
    configs = write_tiny_configs(tmp_path)
    ckpts = [
        fake_models.save_tiny_checkpoint(tmp_path / f"{a}.pt", arch=a)
        for a in ("dlinknet", "linknet")
    ]
    out = tmp_path / "out"
    args = ["compare", *map(str, configs), "--data", str(data), "-o", str(out), "--device", "cpu"]
    for c in ckpts:
        args += ["-k", str(c)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "| linknet_tiny | linknet | test_resnet |" in res.output
    assert "held out: b" in res.output
    rows = list(csv.DictReader(open(out / "table.csv")))
    assert [r["checkpoint"] for r in rows] == [str(ckpts[1]), str(ckpts[0])]
    assert all(0 <= float(r["iou_accumulated"]) <= 1 for r in rows)
    assert (out / "chart.png").stat().st_size > 5000 and (out / "table.md").is_file()


@pytest.mark.parametrize(
    "content, message",
    [
        ("train: {lr: fast}\n", "bad.yaml: train.lr: expected a number, got 'fast'"),
        ("model: [\n", "bad.yaml: not valid YAML"),
    ],
)
def test_bad_config_is_one_line(data, tmp_path, content, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["compare", str(bad), "--data", str(data), "-o", str(out)])
    assert res.exit_code == 1
    assert message in res.output and len(res.output.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_data_folder_is_one_line(tmp_path):
    cfg = write_tiny_configs(tmp_path, archs=("linknet",))[0]
    res = CliRunner().invoke(cli, ["compare", str(cfg), "--data", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "nope: data folder not found" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_compare_encoder_weights_overrides_every_config(tmp_path):
    from geoseg.compare.run import _run_config

    class Split:
        def data_overrides(self):
            return {"scenes": ["a.tif"], "masks": ["a_mask.tif"]}

    for given, want in (("none", None), ("imagenet", "imagenet"), (None, "imagenet")):
        cfg = _run_config("unet_vgg16", Split(), None, given)  # a shipped config by name
        assert cfg.model.encoder_weights == want and cfg.data.scenes == ["a.tif"]
