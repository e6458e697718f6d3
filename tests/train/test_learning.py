"""A short run on easy generated scenes must measurably learn, and save a usable checkpoint."""

import csv

import numpy as np
import torch

from geoseg.checkpoint import load_checkpoint, model_from_checkpoint
from geoseg.train import train_model
from geoseg.train.api import build_model
from geoseg.train.loop import Trainer


def test_training_learns_and_checkpoint_describes_itself(easy_config, tmp_path):
    cfg = easy_config()
    result = train_model(
        cfg, models_dir=tmp_path / "models", out_dir=tmp_path / "run", device="cpu"
    )

    # Untrained baseline: the same model init, same validation tiles, same threshold sweep.
    from geoseg.data import build_datasets

    torch.manual_seed(cfg.train.seed)
    untrained = build_model(cfg)
    data = build_datasets(cfg.data, mean=untrained.norm_mean, std=untrained.norm_std)
    base = Trainer(
        untrained,
        data.train,
        data.val,
        cfg,
        {},
        best_path=tmp_path / "x.pt",
        run_dir=tmp_path / "base",
    ).validate()
    assert base["val_iou"] < 0.2  # ~ the road fraction: "everything is road"
    assert result.best_metrics["val_iou"] >= base["val_iou"] + 0.5, (base, result.best_metrics)

    # The checkpoint is plain data (weights_only) and carries what prediction needs.
    raw = torch.load(result.checkpoint_path, weights_only=True)
    assert result.checkpoint_path.parent == tmp_path / "models"
    assert result.checkpoint_path.name.startswith("linknet_resnet18_")
    for key in (
        "arch",
        "backbone",
        "in_channels",
        "model_kwargs",
        "bands",
        "normalizer",
        "tile",
        "threshold",
        "metrics",
        "config",
        "epoch",
        "state_dict",
    ):
        assert key in raw, key
    assert raw["normalizer"]["low"] == [0.0] * 3 and raw["normalizer"]["high"] == [255.0] * 3
    assert raw["normalizer"]["mean"] == [float(v) for v in untrained.norm_mean]
    assert raw["tile"] == 64 and raw["config"]["model"]["arch"] == "linknet"
    assert raw["threshold"] == result.best_metrics["threshold"]
    assert raw["metrics"]["val_iou"] == result.best_metrics["val_iou"]
    assert "optimizer" not in raw  # the best checkpoint is for prediction

    # Rebuilt from the checkpoint, the model reproduces the validation IoU it claims.
    model = model_from_checkpoint(load_checkpoint(result.checkpoint_path)).eval()
    tp = fp = fn = 0
    with torch.no_grad():
        for i in range(len(data.val)):
            item = data.val[i]
            prob = torch.sigmoid(model(item["image"][None]))[0]
            pred, truth = prob >= raw["threshold"], item["mask"] > 0.5
            tp += int((pred & truth).sum())
            fp += int((pred & ~truth).sum())
            fn += int((~pred & truth).sum())
    assert abs(tp / (tp + fp + fn) - raw["metrics"]["val_iou"]) < 0.02

    # Logs: one CSV row per epoch and a curve plot.
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    assert np.isclose(
        max(float(r["val_iou"]) for r in rows), result.best_metrics["val_iou"], atol=1e-5
    )
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000
