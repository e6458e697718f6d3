"""The paper's reference IoU column and the table text."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoseg.compare.table import PAPER_IOU, paper_iou
from geoseg.config import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize(
    "name, iou",
    [
        ("unet_vgg16", 62.94),
        ("adlinknet_resnet34", 64.73),
        ("adlinknet_resnet101", 63.37),
        ("adlinknet_xception", 64.81),
    ],
)
def test_the_seed_configs_get_the_papers_numbers(name, iou):
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert paper_iou(cfg.model.arch, cfg.model.backbone) == iou


def test_paper_iou_only_for_the_papers_models():
    assert paper_iou("adlinknet", "legacy_xception") == 64.81  # the timm name works too
    assert paper_iou("dlinknet", "resnet34") is None
    assert paper_iou("unet", "resnet34") is None
    assert len(PAPER_IOU) == 4
