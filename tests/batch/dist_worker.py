"""Run by tests/batch/test_batch_distributed.py under torchrun: one rank of a batch over the
test area, with the truth-mask predictor and the exact-line vectorizer (fast)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from geoseg.batch import run_batch
from tests.batch.conftest import line_vectorizer, true_lines, truth_predictor


def main(area_dir: str, out_dir: str) -> None:
    area_dir = Path(area_dir)
    scenes = sorted((area_dir / "scenes").glob("*.tif"))
    result = run_batch(
        scenes,
        out_dir,
        predictor=truth_predictor(area_dir / "truth"),
        vectorizer=line_vectorizer(true_lines()),
        progress=False,
    )
    report = {
        "rank": result.rank,
        "world_size": result.world_size,
        "env_rank": int(os.environ["RANK"]),
        "processed": result.processed,
        "roads": str(result.roads_path) if result.roads_path else None,
        "failed": len(result.failed),
    }
    Path(out_dir, f"rank{result.rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:3])
