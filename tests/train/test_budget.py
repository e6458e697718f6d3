"""Training budgets: validation every N epochs, and a cosine lr annealed over the budget."""

import csv

import pytest

from geoseg.checkpoint import load_checkpoint
from geoseg.config import config_from_dict
from geoseg.errors import ConfigError
from geoseg.train import train_model
from geoseg.train.schedule import budget_progress

TINY = {
    "model": {"backbone": "test_resnet"},
    "data": {"tile": 32, "batch_size": 4, "samples_per_epoch": 8},
}


def test_validation_every_n_epochs_and_after_the_last(easy_config, tmp_path):
    cfg = easy_config(**TINY, train={"epochs": 5, "val_every": 2, "schedule": "cosine"}, size=96)
    result = train_model(cfg, models_dir=tmp_path / "m", out_dir=tmp_path / "run", device="cpu")
    validated = [h["epoch"] for h in result.history if h.get("val_iou") is not None]
    assert validated == [2, 4, 5]  # every 2nd epoch, and the final one
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5]
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [r["val_iou"] != "" for r in rows] == [False, True, False, True, True]
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["epoch"] == 5 and last["step"] == 10 and last["elapsed_s"] > 0
    best = load_checkpoint(result.checkpoint_path)
    assert best["epoch"] in validated


def test_cosine_anneals_to_zero_over_max_steps(easy_config, tmp_path):
    cfg = easy_config(
        **TINY, train={"epochs": 100, "max_steps": 6, "schedule": "cosine", "lr": 1e-3}, size=96
    )
    result = train_model(cfg, models_dir=tmp_path / "m", out_dir=tmp_path / "run", device="cpu")
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["step"] == 6 and len(result.history) == 3  # stopped by max_steps, not epochs
    # lr at the start of each epoch: 1e-3, then half-cosine values at progress 2/6 and 4/6
    lrs = [h["lr"] for h in result.history]
    assert lrs == pytest.approx([1e-3, 0.75e-3, 0.25e-3], rel=1e-6)
    assert last["scheduler"]["progress"] == 1.0
    assert last["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_budget_progress_is_the_largest_share_spent():
    assert budget_progress(10, 10, 4, None, 0.0, None) == 0.25  # by epochs x steps
    assert budget_progress(10, 10, 4, 20, 0.0, None) == 0.5  # max_steps binds first
    assert budget_progress(10, 10, 4, None, 90.0, 2.0) == 0.75  # 90 s of a 2-minute budget
    assert budget_progress(99, 10, 4, None, 999.0, 1.0) == 1.0


def test_bad_budget_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="train.val_every: must be at least 1"):
        config_from_dict({"train": {"val_every": 0}}, "x.yaml")
    with pytest.raises(ConfigError, match=r"train.augment: expected true/false or one of 'flips'"):
        config_from_dict({"train": {"augment": "heavy"}}, "x.yaml")
