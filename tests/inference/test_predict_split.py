"""One scene over two torchrun ranks (gloo, CPU): `geoseg predict` under torchrun writes
the same bytes as one process, and leaves no part behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.fake_models import save_tiny_checkpoint
from tests.helpers import easy_road_scene, write_geotiff

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # two torchrun ranks and a single run: about 90 s on 2 shared cores
def test_torchrun_ranks_share_one_scene_and_write_the_single_process_bytes(tmp_path):
    image, _ = easy_road_scene(size=256)
    image = np.concatenate([image, image[:, :84]], axis=1)[:, :, :180]  # 340 x 180
    scene = write_geotiff(tmp_path / "scene.tif", np.ascontiguousarray(image))
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    args = ["predict", str(scene), "--model", str(ckpt), "--tile", "64", "--overlap", "16"]
    args += ["--device", "cpu", "--progress", "none"]
    single = subprocess.run(
        [sys.executable, "-m", "geoseg", *args, "-o", str(tmp_path / "one")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    split = subprocess.run(
        [*torchrun, "--nproc-per-node", "2", "-m", "geoseg", *args, "-o", str(tmp_path / "two")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert split.returncode == 0, split.stderr[-3000:]
    assert "rank 1: " in split.stdout and "rank 0 writes the outputs" in split.stdout
    assert "probabilities: " in split.stdout  # rank 0's report
    for kind in ("prob", "mask"):
        one = (tmp_path / "one" / f"scene_{kind}.tif").read_bytes()
        two = (tmp_path / "two" / f"scene_{kind}.tif").read_bytes()
        assert one == two, kind
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "scene_mask.tif",
        "scene_prob.tif",
    ]
