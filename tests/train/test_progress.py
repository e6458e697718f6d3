"""The training bar: epoch i/N and the time left for the run; DataLoader workers ≤ cores."""

from __future__ import annotations

import os

from geoseg.train.logs import epoch_label, run_eta
from geoseg.train.loop import usable_workers
from geoseg.train.schedule import budget_progress


def test_epoch_label_and_run_eta():
    assert epoch_label(7, 100) == "epoch 7/100"
    # 10 of 40 steps in 30 s: 90 s left
    assert run_eta(budget_progress(10, 10, 4, None, 30.0, None), 30.0) == "1:30"
    # a 2-minute budget half spent after 60 s: 60 s left, whatever the epoch count says
    assert run_eta(budget_progress(1, 10, 100, None, 60.0, 2.0), 60.0) == "1:00"
    assert run_eta(0.25, 1200.0) == "1:00:00"
    assert run_eta(0.0, 5.0) == "?" and run_eta(1.0, 5.0) == "0:00"


def test_workers_are_capped_at_the_cores(monkeypatch):
    """data.num_workers: 4 on a 2-core machine makes 2 workers (DataLoader warns above)."""
    cores = len(os.sched_getaffinity(0))
    assert usable_workers(4 * cores) == cores
    assert usable_workers(0) == 0 and usable_workers(1) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert usable_workers(4) == 2


def test_training_bar_shows_epoch_of_total_and_eta(easy_config, tmp_path, capsys):
    from geoseg.train import train_model

    cfg = easy_config(
        model={"backbone": "test_resnet"},
        train={"epochs": 2},
        size=64,
        data={"samples_per_epoch": 8, "batch_size": 4},
    )
    train_model(cfg, models_dir=tmp_path / "m", out_dir=tmp_path / "r", device="cpu")
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "run_eta=" in err
