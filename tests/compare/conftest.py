"""A tiny comparison run once per module: 3 generated 96 px scenes, two 1-step models."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = """model: {{arch: {arch}, backbone: test_resnet, encoder_weights: null}}
data: {{tile: 64, batch_size: 4, samples_per_epoch: 4}}
train: {{epochs: 1, max_steps: 1, amp: false, schedule: cosine, augment: false}}
predict: {{tile: 64, overlap: 8, batch_size: 4}}
"""


def write_tiny_configs(folder: Path, archs=("linknet", "dlinknet")) -> list[Path]:
    """One YAML per architecture (tiny test_resnet backbone, one training step)."""
    paths = []
    for arch in archs:
        path = folder / f"{arch}_tiny.yaml"
        path.write_text(TINY.format(arch=arch))
        paths.append(path)
    return paths


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
    from geoseg.compare import compare_models

    root = tmp_path_factory.mktemp("cmp")
    configs = write_tiny_configs(root)
    return compare_models(configs, scenes, out_dir=root / "out", device="cpu", progress=False)
