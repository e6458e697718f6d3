"""Run by tests/batch/test_batch_api.py and killed with SIGKILL while it writes the
mask of scene `hang` (a partial file exists, the scene's record says running)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from geoseg.batch import run_batch
from geoseg.io.files import atomic_output
from tests.batch.conftest import line_vectorizer, true_lines, truth_predictor


def main(area_dir: str, out_dir: str, hang: str) -> None:
    area_dir = Path(area_dir)
    truth = truth_predictor(area_dir / "truth")

    def predict(scene, scene_dir):
        if Path(scene.path).stem == hang:
            with atomic_output(scene_dir / f"{hang}_mask.tif") as tmp:
                tmp.write_bytes(b"half a mask")
                time.sleep(600)  # killed here
        return truth(scene, scene_dir)

    run_batch(
        sorted((area_dir / "scenes").glob("*.tif")),
        out_dir,
        predictor=predict,
        vectorizer=line_vectorizer(true_lines()),
        progress=False,
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
