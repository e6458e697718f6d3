"""--resume continues from the saved epoch with identical optimizer state."""

import copy
import dataclasses

import pytest
import torch

from geoseg.checkpoint import load_checkpoint
from geoseg.errors import CheckpointError
from geoseg.train import train_model
from geoseg.train.loop import Trainer

TINY = {
    "model": {"backbone": "test_resnet"},
    "data": {"tile": 32, "batch_size": 4, "samples_per_epoch": 8},
    "train": {"schedule": "plateau", "lr": 1e-3},
}


def _with_epochs(cfg, epochs):
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs))


def _assert_same_tensors(a, b, path="state"):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same_tensors(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tensors(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_resume_matches_an_uninterrupted_run(easy_config, tmp_path, monkeypatch):
    cfg = easy_config(**TINY, size=96)
    straight = train_model(
        _with_epochs(cfg, 3), models_dir=tmp_path / "m1", out_dir=tmp_path / "r1", device="cpu"
    )
    first = train_model(
        _with_epochs(cfg, 2), models_dir=tmp_path / "m2", out_dir=tmp_path / "r2", device="cpu"
    )
    last = load_checkpoint(tmp_path / "r2" / "last.pt")
    assert last["epoch"] == 2 and last["step"] == 4

    # The resumed trainer holds exactly the saved optimizer and scheduler state.
    seen = {}
    original = Trainer.resume

    def spy(self, path):
        original(self, path)
        seen["optimizer"] = copy.deepcopy(self.optimizer.state_dict())
        seen["scheduler"] = copy.deepcopy(self.scheduler.state_dict())
        seen["start"] = self.start_epoch

    monkeypatch.setattr(Trainer, "resume", spy)
    resumed = train_model(_with_epochs(cfg, 3), resume=tmp_path / "r2" / "last.pt", device="cpu")
    _assert_same_tensors(seen["optimizer"], last["optimizer"], "optimizer")
    _assert_same_tensors(seen["scheduler"], last["scheduler"], "scheduler")
    assert seen["start"] == 3
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert resumed.checkpoint_path == first.checkpoint_path  # same run, same best file
    assert resumed.run_dir == tmp_path / "r2"

    # Same seeds, same windows, same augmentation: resuming changes nothing.
    a = load_checkpoint(tmp_path / "r1" / "last.pt")
    b = load_checkpoint(tmp_path / "r2" / "last.pt")
    assert b["epoch"] == 3 and b["step"] == 6
    for k, v in a["state_dict"].items():
        assert torch.allclose(v.float(), b["state_dict"][k].float(), atol=1e-6), k
    assert [h["train_loss"] for h in a["history"]] == pytest.approx(
        [h["train_loss"] for h in b["history"]], rel=1e-5
    )
    assert straight.best_metrics == pytest.approx(resumed.best_metrics, rel=1e-5)

    # A checkpoint of another architecture, or a best checkpoint (no optimizer), is refused.
    other = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, arch="dlinknet"))
    with pytest.raises(CheckpointError, match="last.pt: cannot resume: checkpoint arch"):
        train_model(_with_epochs(other, 4), resume=tmp_path / "r2" / "last.pt", device="cpu")
    with pytest.raises(CheckpointError, match="no optimizer state"):
        train_model(_with_epochs(cfg, 4), resume=first.checkpoint_path, device="cpu")
