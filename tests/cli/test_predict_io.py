"""`geoseg predict --outputs/--compress/--cog/--threads`."""

import fake_models
import numpy as np
import rasterio
from helpers import run_cli, write_geotiff


def test_io_options_reach_the_files(tmp_path):
    ckpt = fake_models.save_tiny_checkpoint(tmp_path / "m.pt")
    data = np.random.default_rng(0).integers(1, 256, (3, 100, 90)).astype(np.uint8)
    scene = write_geotiff(tmp_path / "scene.tif", data)
    out = tmp_path / "out"
    result = run_cli(
        "predict",
        scene,
        "--model",
        ckpt,
        "-o",
        out,
        "--tile",
        64,
        "--overlap",
        16,
        "--device",
        "cpu",
        "--outputs",
        "mask",
        "--compress",
        "zstd",
        "--cog",
        "--threads",
        2,
    )
    assert result.exit_code == 0, result.output
    assert "mask:" in result.output and "probabilities:" not in result.output
    assert [p.name for p in out.iterdir()] == ["scene_mask.tif"]
    with rasterio.open(out / "scene_mask.tif") as src:
        assert src.compression.name == "zstd" and src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"

    refused = ("predict", scene, "--model", ckpt, "-o", tmp_path / "bad", "--device", "cpu")
    bad = run_cli(*refused, "--outputs", "prob", "--vector", tmp_path / "roads.gpkg")
    assert bad.exit_code != 0 and "--vector traces the mask" in bad.output
    typo = run_cli(*refused, "--outputs", "masks")
    assert typo.exit_code == 1 and "unknown output 'masks'" in typo.output
    assert not (tmp_path / "bad").exists()
