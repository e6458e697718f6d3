"""Brief training on real aerial road tiles (ETH CIL 400, skipped when absent)."""

from geoseg.config import config_from_dict
from geoseg.train import train_model


def _as_deepglobe(realdata, folder, ids):
    """Link ETH tiles into DeepGlobe's <id>_sat.png + <id>_mask.png layout."""
    folder.mkdir()
    eth = realdata / "eth_cil_400"
    for i in ids:
        (folder / f"{i:03d}_sat.png").symlink_to(eth / "images" / f"satImage_{i:03d}.png")
        (folder / f"{i:03d}_mask.png").symlink_to(eth / "groundtruth" / f"satImage_{i:03d}.png")
    return folder


def test_loss_decreases_on_real_tiles(realdata, tmp_path):
    folder = _as_deepglobe(realdata, tmp_path / "eth", range(1, 12))
    cfg = config_from_dict(
        {
            "model": {"arch": "linknet", "backbone": "resnet18"},
            "data": {"deepglobe": str(folder), "val_scenes": ["011"], "tile": 96, "batch_size": 5},
            "train": {"epochs": 4, "lr": 1e-3, "schedule": "cosine"},
        },
        "test",
    )
    result = train_model(
        cfg, models_dir=tmp_path / "models", out_dir=tmp_path / "run", device="cpu"
    )
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0], losses
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"], result.history
