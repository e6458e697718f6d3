"""torchrun over 2 CPU ranks (gloo): every scene mapped exactly once, one merged output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from geoseg.batch import run_batch
from tests.batch.conftest import line_vectorizer, read_layer, truth_predictor

REPO = Path(__file__).resolve().parents[2]


def test_torchrun_two_ranks_share_the_scenes(area, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(REPO / "tests" / "batch" / "dist_worker.py"),
        str(area.scenes[0].parent.parent),
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]

    reports = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(r["rank"], r["env_rank"], r["world_size"]) for r in reports] == [(0, 0, 2), (1, 1, 2)]
    assert [r["processed"] for r in reports] == [4, 2]  # rank 0 reports the whole job
    assert reports[0]["roads"] == str(out / "roads.gpkg") and reports[1]["roads"] is None

    records = {p.stem: json.loads(p.read_text()) for p in (out / "manifest").glob("*.json")}
    assert sorted(records) == ["a", "b", "c", "d"]
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in records.values())
    assert sorted(r["rank"] for r in records.values()) == [0, 0, 1, 1]  # each once, both ranks

    single = run_batch(
        area.scenes,
        tmp_path / "single",
        predictor=truth_predictor(area.truth_dir),
        vectorizer=line_vectorizer(area.roads),
        progress=False,
    )

    def snapshot(path):
        return sorted(g.wkt for g in read_layer(path).geometry)

    assert snapshot(out / "roads.gpkg") == snapshot(single.roads_path)
    assert (out / "masks.vrt").is_file() and (out / "summary.csv").is_file()
