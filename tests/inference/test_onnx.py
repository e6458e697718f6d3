"""`geoseg export` to ONNX and `geoseg predict --model model.onnx` through onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import write_geotiff

from geoseg.cli.main import cli

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def checkpoint_of(tmp_path, arch, backbone, seed=0, **extra):
    from geoseg.checkpoint import save_checkpoint
    from geoseg.models import create_model
    from geoseg.normalize import Normalizer

    torch.manual_seed(seed)
    net = create_model(arch, backbone)
    with torch.no_grad():  # non-trivial BN statistics, so eval mode matters
        for name, t in net.state_dict().items():
            if name.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                t.normal_(0, 0.1)
    norm = Normalizer.for_dtype("uint8", net.norm_mean, net.norm_std)
    path = tmp_path / f"{arch}_{backbone}.pt"
    save_checkpoint(
        path,
        {
            "arch": arch,
            "backbone": backbone,
            "in_channels": 3,
            "bands": None,
            "normalizer": norm.to_dict(),
            "tile": 64,
            "threshold": 0.5,
            "model_kwargs": dict(net.model_kwargs),
            "state_dict": net.state_dict(),
            **extra,
        },
    )
    return path, net.eval()


def ort_logits(path, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"image": x.numpy()})[0]


@pytest.mark.parametrize("arch", ["unet", "linknet", "dlinknet", "adlinknet"])
def test_onnxruntime_equals_torch_at_two_tile_sizes(tmp_path, arch):
    from geoseg.export import export_onnx

    ckpt, net = checkpoint_of(tmp_path, arch, "resnet18")
    out = export_onnx(ckpt, tmp_path / "m.onnx", check_size=None).path
    for batch, size in ((2, 64), (1, 96)):  # dynamic batch, height and width
        x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(size))
        with torch.no_grad():
            want = net(x).numpy()
        got = ort_logits(out, x)
        assert got.shape == (batch, 1, size, size)
        assert np.abs(got - want).max() <= 1e-4


@pytest.mark.slow
def test_adlinknet_xception_exports_inference_graph_at_any_size(tmp_path):
    from geoseg.export import export_onnx

    ckpt, net = checkpoint_of(tmp_path, "adlinknet", "xception")
    result = export_onnx(ckpt, tmp_path / "adx.onnx", check_size=None)
    proto = onnx.load(str(result.path))
    assert proto.opset_import[0].version >= 17
    names = [i.name for i in proto.graph.initializer]
    assert names and not any("aux_heads" in n for n in names)  # no auxiliary heads
    assert len(proto.graph.output) == 1
    x = torch.randn(1, 3, 72, 88, generator=torch.Generator().manual_seed(1))  # not /32
    with torch.no_grad():
        want = net(x).numpy()
    got = ort_logits(result.path, x)
    assert got.shape == (1, 1, 72, 88)
    assert np.abs(got - want).max() <= 1e-4


def test_export_metadata_and_cli(tmp_path):
    import json

    from geoseg import __version__

    ckpt, _ = checkpoint_of(
        tmp_path,
        "linknet",
        "test_resnet",
        bands=[3, 2, 1],
        predict_defaults={"tile": 96, "tta": "flip"},
    )
    out = tmp_path / "tiny.onnx"
    res = CliRunner().invoke(cli, ["export", str(ckpt), str(out)])
    assert res.exit_code == 0, res.output
    assert "max |Δlogit|" in res.output
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["arch"] == "linknet" and meta["backbone"] == "test_resnet"
    assert json.loads(meta["bands"]) == [3, 2, 1]
    assert json.loads(meta["threshold"]) == 0.5 and json.loads(meta["tile"]) == 64
    assert json.loads(meta["predict_defaults"]) == {"tile": 96, "tta": "flip"}
    assert json.loads(meta["normalizer"])["high"] == [255.0] * 3
    assert meta["geoseg_version"] == __version__
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    dims = session.get_inputs()[0].shape
    assert dims[0] == "batch" and dims[2] == "height" and dims[3] == "width"

    bad = CliRunner().invoke(cli, ["export", str(ckpt), str(tmp_path / "x.bin")])
    assert bad.exit_code == 1 and ".onnx" in bad.output


def test_predict_with_onnx_writes_the_checkpoints_mask(tmp_path):
    import rasterio

    ckpt, _ = checkpoint_of(tmp_path, "dlinknet", "test_resnet", seed=2)
    onnx_path = tmp_path / "m.onnx"
    assert (
        CliRunner().invoke(cli, ["export", str(ckpt), str(onnx_path), "--no-check"]).exit_code == 0
    )
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (3, 150, 130), dtype=np.uint8)
    image[:, :20, :30] = 0  # nodata corner
    scene = write_geotiff(tmp_path / "scene.tif", image, nodata=0)
    outputs = {}
    threshold = None
    for name, model in (("probe", ckpt), ("pt", ckpt), ("onnx", onnx_path)):
        extra = ["--threshold", f"{threshold:.6f}"] if threshold is not None else []
        res = CliRunner().invoke(
            cli,
            [
                "predict",
                str(scene),
                "--model",
                str(model),
                "-o",
                str(tmp_path / name),
                "--tile",
                "64",
                "--tta",
                "flip",
                "--float",
                "--no-amp",
                "--device",
                "cpu",
                *extra,
            ],
        )
        assert res.exit_code == 0, res.output
        if threshold is None:  # the random net's median probability: a mask of both classes
            with rasterio.open(tmp_path / name / "scene_prob.tif") as p:
                threshold = float(np.median(p.read(1, masked=True).compressed()))
            continue
        with (
            rasterio.open(tmp_path / name / "scene_mask.tif") as m,
            rasterio.open(tmp_path / name / "scene_prob.tif") as p,
        ):
            outputs[name] = (m.read(1), m.read_masks(1), p.read(1), m.crs)
    mask_pt, valid_pt, prob_pt, crs = outputs["pt"]
    mask_ox, valid_ox, prob_ox, crs_ox = outputs["onnx"]
    assert 0.05 < mask_pt[valid_pt > 0].mean() < 0.95  # a real mask, not all one class
    np.testing.assert_array_equal(mask_ox, mask_pt)
    np.testing.assert_array_equal(valid_ox, valid_pt)
    assert (valid_pt[:20, :30] == 0).all()
    assert np.abs(prob_ox - prob_pt).max() <= 1e-5
    assert crs_ox == crs


def test_arch_check_and_bad_onnx_files(tmp_path):
    ckpt, _ = checkpoint_of(tmp_path, "linknet", "test_resnet")
    onnx_path = tmp_path / "m.onnx"
    assert (
        CliRunner().invoke(cli, ["export", str(ckpt), str(onnx_path), "--no-check"]).exit_code == 0
    )
    scene = write_geotiff(tmp_path / "s.tif", np.zeros((3, 64, 64), np.uint8))
    wrong = CliRunner().invoke(
        cli,
        [
            "predict",
            str(scene),
            "--model",
            str(onnx_path),
            "--arch",
            "unet",
            "-o",
            str(tmp_path / "o"),
        ],
    )
    assert wrong.exit_code == 1 and "linknet" in wrong.output
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    res = CliRunner().invoke(
        cli, ["predict", str(scene), "--model", str(junk), "-o", str(tmp_path / "o")]
    )
    assert res.exit_code == 1 and "not a readable ONNX model" in res.output
    assert "Traceback" not in res.output
