"""Tiny run configs for tests that train and predict end to end (seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path

TINY = """model: {{arch: {arch}, backbone: test_resnet, encoder_weights: null}}
data: {{tile: 64, batch_size: 4, samples_per_epoch: 4}}
train: {{epochs: 1, max_steps: 1, amp: false, schedule: cosine, augment: false}}
predict: {{tile: {predict_tile}, overlap: 8, batch_size: 4}}
"""


def write_tiny_configs(
    folder: Path, archs=("linknet", "dlinknet"), predict_tile: int = 64
) -> list[Path]:
    """One YAML per architecture (tiny test_resnet backbone, one training step)."""
    paths = []
    for arch in archs:
        path = Path(folder) / f"{arch}_tiny.yaml"
        path.write_text(TINY.format(arch=arch, predict_tile=predict_tile))
        paths.append(path)
    return paths
