"""compare on a real DeepGlobe folder (JPEG/PNG tiles, no CRS, 3-band masks)."""

from __future__ import annotations

import csv
import math

import fake_models
from tiny_configs import write_tiny_configs

from geoseg.compare import compare_models
from geoseg.evaluate import evaluate_pairs


def test_deepglobe_folder_with_a_given_checkpoint(realdata, tmp_path):
    data = realdata / "deepglobe"
    (config,) = write_tiny_configs(tmp_path, archs=("linknet",), predict_tile=256)
    # threshold 0.01: everything is road, quick to vectorize (a random net's noise is not)
    ckpt = fake_models.save_tiny_checkpoint(tmp_path / "l.pt", arch="linknet", threshold=0.01)
    result = compare_models(
        [config], data, checkpoints=[ckpt], out_dir=tmp_path / "o", device="cpu", progress=False
    )
    assert result.split.layout == "deepglobe"
    assert [s.name for s in result.split.test] == ["951_0_0"]
    assert result.references == {"951_0_0": "vectorized truth mask"}
    (row,) = csv.DictReader(open(tmp_path / "o" / "table.csv"))
    pred = tmp_path / "o" / "predictions" / "linknet_tiny" / "951_0_0_sat_mask.tif"
    direct = evaluate_pairs([(pred, data / "951_0_0_mask.png")]).summary()["pixel"]
    assert math.isclose(float(row["iou_accumulated"]), direct["accumulated"]["iou"])
    assert 0 < float(row["iou_accumulated"]) < 0.5  # all road: IoU = road fraction
    assert 0 <= float(row["apls"]) <= 1
    assert "truth masks vectorized" in (tmp_path / "o" / "table.md").read_text()
