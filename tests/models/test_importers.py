"""`geoseg models import`: foreign weights -> geoseg checkpoints whose predictions equal
the original network's.

The D-LinkNet reference below is an independent re-implementation of the D-LinkNet
repository's ``DinkNet34`` (networks/dinknet.py) over torchvision's resnet34, as the
original: its state dict has the released file's layer names and shapes.  smp models
come from segmentation_models_pytorch itself.  Each round trip compares the probability
raster ``geoseg predict`` writes with the reference forward on the same pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from helpers import write_geotiff
from torch import nn

from geoseg.cli.main import cli

# ------------------------------------------------------------------ reference DinkNet34


class Dblock(nn.Module):
    def __init__(self, channel: int) -> None:
        super().__init__()
        for i, d in enumerate((1, 2, 4, 8), 1):
            setattr(self, f"dilate{i}", nn.Conv2d(channel, channel, 3, dilation=d, padding=d))

    def forward(self, x):
        d1 = F.relu(self.dilate1(x))
        d2 = F.relu(self.dilate2(d1))
        d3 = F.relu(self.dilate3(d2))
        d4 = F.relu(self.dilate4(d3))
        return x + d1 + d2 + d3 + d4


class DecoderBlock(nn.Module):
    def __init__(self, cin: int, nf: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin // 4, 1)
        self.norm1 = nn.BatchNorm2d(cin // 4)
        self.deconv2 = nn.ConvTranspose2d(
            cin // 4, cin // 4, 3, stride=2, padding=1, output_padding=1
        )
        self.norm2 = nn.BatchNorm2d(cin // 4)
        self.conv3 = nn.Conv2d(cin // 4, nf, 1)
        self.norm3 = nn.BatchNorm2d(nf)

    def forward(self, x):
        x = F.relu(self.norm1(self.conv1(x)))
        x = F.relu(self.norm2(self.deconv2(x)))
        return F.relu(self.norm3(self.conv3(x)))


class DinkNet34(nn.Module):
    """The reference network, forward ending in a sigmoid as the original."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet34

        resnet = resnet34(weights=None)
        self.firstconv, self.firstbn = resnet.conv1, resnet.bn1
        self.firstrelu, self.firstmaxpool = resnet.relu, resnet.maxpool
        self.encoder1, self.encoder2 = resnet.layer1, resnet.layer2
        self.encoder3, self.encoder4 = resnet.layer3, resnet.layer4
        self.dblock = Dblock(512)
        self.decoder4 = DecoderBlock(512, 256)
        self.decoder3 = DecoderBlock(256, 128)
        self.decoder2 = DecoderBlock(128, 64)
        self.decoder1 = DecoderBlock(64, 64)
        self.finaldeconv1 = nn.ConvTranspose2d(64, 32, 4, 2, 1)
        self.finalconv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.finalconv3 = nn.Conv2d(32, 1, 3, padding=1)

    def forward(self, x):
        x = self.firstmaxpool(self.firstrelu(self.firstbn(self.firstconv(x))))
        e1 = self.encoder1(x)
        e2 = self.encoder2(e1)
        e3 = self.encoder3(e2)
        e4 = self.dblock(self.encoder4(e3))
        d4 = self.decoder4(e4) + e3
        d3 = self.decoder3(d4) + e2
        d2 = self.decoder2(d3) + e1
        d1 = self.decoder1(d2)
        out = F.relu(self.finalconv2(F.relu(self.finaldeconv1(d1))))
        return torch.sigmoid(self.finalconv3(out))


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and BN statistics, scaled so probabilities spread over (0, 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("running_mean") or name.endswith("bias"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif t.ndim == 1:  # BN weight
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.5)
            else:
                fan_in = t[0].numel() if t.ndim > 1 else 1
                t.copy_(torch.randn(t.shape, generator=g) / fan_in**0.5)
    return model.eval()


def spread(
    net: nn.Module, last: nn.Conv2d, x: torch.Tensor, sigmoid_output: bool, logit_std: float = 2.0
) -> None:
    """Rescale the last (linear) conv so the logits on `x` have mean 0 and std
    `logit_std`: probabilities spread over (0, 1) instead of sitting at 0.5."""
    with torch.no_grad():
        out = net(x).double()
        if sigmoid_output:
            p = out.clamp(1e-7, 1 - 1e-7)
            logit = torch.log(p / (1 - p))
        else:
            logit = out
        s = logit_std / float(logit.std())
        last.weight.mul_(s)
        last.bias.mul_(s).sub_(s * float(logit.mean()))


def d4_reference(net, x: torch.Tensor) -> np.ndarray:
    """The D-LinkNet test script's TTA: mean of the 8 rotations/reflections."""
    total = torch.zeros(x.shape[-2:], dtype=torch.float64)
    with torch.no_grad():
        for flip in (False, True):
            v = torch.flip(x, (-1,)) if flip else x
            for k in range(4):
                p = net(torch.rot90(v, k, (-2, -1)))[0, 0]
                p = torch.rot90(p, -k, (-2, -1))
                total += (torch.flip(p, (-1,)) if flip else p).double()
    return (total / 8).numpy()


def rgb_scene(tmp_path, size: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (3, size, size), dtype=np.uint8)
    return write_geotiff(tmp_path / "rgb.tif", image), image


def predict_float(scene, ckpt, out, *extra):
    res = CliRunner().invoke(
        cli,
        [
            "predict",
            str(scene),
            "--model",
            str(ckpt),
            "-o",
            str(out),
            "--float",
            "--no-amp",
            "--device",
            "cpu",
            *extra,
        ],
    )
    assert res.exit_code == 0, res.output
    import rasterio

    with rasterio.open(out / "rgb_prob.tif") as src:
        return src.read(1).astype(np.float64), src.crs, res.output


@pytest.fixture(scope="module")
def dink34():
    net = randomize(DinkNet34(), seed=3)
    spread(net, net.finalconv3, torch.rand(1, 3, 96, 96) * 3.2 - 1.6, sigmoid_output=True)
    return net


def save_released_style(net, path, drop_counters=True):
    """Like log01_dink34.th: DataParallel state dict, pre-0.4 (no BN counters), legacy
    (non-zip) serialisation."""
    state = nn.DataParallel(net).state_dict()
    if drop_counters:
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(state, path, _use_new_zipfile_serialization=False)
    return path


def test_dlinknet34_import_predicts_like_the_original(tmp_path, dink34):
    weights = save_released_style(dink34, tmp_path / "log01_dink34.th")
    assert all(k.startswith("module.") for k in torch.load(weights, weights_only=True))
    ckpt = tmp_path / "dink34.pt"
    res = CliRunner().invoke(
        cli, ["models", "import", str(weights), "--format", "dlinknet34", "-o", str(ckpt)]
    )
    assert res.exit_code == 0, res.output
    assert "dlinknet/resnet34" in res.output and "bands 3,2,1" in res.output

    scene, image = rgb_scene(tmp_path, 96)
    # --tile 96: one tile covers the scene, so stitching cannot blur the comparison; the
    # TTA comes from the checkpoint (d4, as the original test script)
    prob, crs, _ = predict_float(scene, ckpt, tmp_path / "out", "--tile", "96")
    bgr = image[::-1].astype(np.float32)  # OpenCV order
    x = torch.from_numpy(bgr / 255.0 * 3.2 - 1.6)[None].float()
    want = d4_reference(dink34, x)
    assert want.std() > 0.05  # the random network is not saturated: a real comparison
    assert np.abs(prob - want).max() <= 1e-5
    assert crs.to_epsg() == 32633
    # and the TTA default mattered: one view differs from the D4 mean
    with torch.no_grad():
        single = dink34(x)[0, 0].double().numpy()
    assert np.abs(single - want).max() > 1e-3


def test_imported_checkpoint_records_how_to_feed_it(tmp_path, dink34):
    from geoseg.checkpoint import load_checkpoint, model_from_checkpoint
    from geoseg.models import count_parameters

    weights = save_released_style(dink34, tmp_path / "w.th", drop_counters=False)
    res = CliRunner().invoke(
        cli,
        ["models", "import", str(weights), "--format", "dlinknet34", "-o", str(tmp_path / "c.pt")],
    )
    assert res.exit_code == 0, res.output
    ckpt = load_checkpoint(tmp_path / "c.pt")
    assert ckpt["bands"] == [3, 2, 1]
    assert ckpt["normalizer"]["mean"] == [0.5] * 3 and ckpt["normalizer"]["std"] == [0.3125] * 3
    assert ckpt["predict_defaults"] == {"tile": 1024, "tta": "d4"}
    assert ckpt["threshold"] == 0.5
    assert ckpt["source"]["format"] == "dlinknet34"
    assert len(ckpt["source"]["sha256"]) == 64
    assert count_parameters(model_from_checkpoint(ckpt)) == sum(
        p.numel() for p in dink34.parameters()
    )


def test_predict_uses_checkpoint_defaults_unless_given(tmp_path):
    """Explicit option > checkpoint's predict_defaults > built-in default."""
    from fake_models import save_tiny_checkpoint

    from geoseg.checkpoint import load_checkpoint

    path = save_tiny_checkpoint(tmp_path / "tiny.pt")
    plain = CliRunner().invoke(
        cli,
        [
            "predict",
            str(rgb_scene(tmp_path, 128)[0]),
            "--model",
            str(path),
            "-o",
            str(tmp_path / "a"),
            "--device",
            "cpu",
        ],
    )
    assert plain.exit_code == 0, plain.output
    assert "1 tiles" in plain.output  # default 512 covers 128 px in one tile
    ckpt = load_checkpoint(path)
    ckpt.predict_defaults = {"tile": 64, "tta": "flip"}
    ckpt.save(path)
    scene = tmp_path / "rgb.tif"
    from_ckpt = CliRunner().invoke(
        cli,
        ["predict", str(scene), "--model", str(path), "-o", str(tmp_path / "b"), "--device", "cpu"],
    )
    assert from_ckpt.exit_code == 0, from_ckpt.output
    assert "9 tiles" in from_ckpt.output  # 64-px tiles, 16 px overlap: starts 0, 48, 64
    given = CliRunner().invoke(
        cli,
        [
            "predict",
            str(scene),
            "--model",
            str(path),
            "-o",
            str(tmp_path / "c"),
            "--device",
            "cpu",
            "--tile",
            "128",
        ],
    )
    assert given.exit_code == 0, given.output
    assert "1 tiles" in given.output


# ------------------------------------------------------------------ smp round trips

SMP_CASES = [
    ("Unet", "resnet34", 64),
    ("Unet", "tu-resnet18", 64),
    ("Linknet", "resnet18", 64),
    ("Unet", "vgg11", 64),
]


@pytest.mark.parametrize("arch,encoder,size", SMP_CASES)
def test_smp_import_predicts_like_smp(tmp_path, arch, encoder, size):
    smp = pytest.importorskip("segmentation_models_pytorch")
    net = randomize(
        getattr(smp, arch)(encoder_name=encoder, encoder_weights=None, classes=1), seed=5
    )
    scene, image = rgb_scene(tmp_path, size)
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)
    x = torch.from_numpy((image.astype(np.float32) / 255.0 - mean) / std)[None]
    spread(net, net.segmentation_head[0], x, sigmoid_output=False)
    weights = tmp_path / "smp.pth"
    torch.save(net.state_dict(), weights)
    ckpt = tmp_path / "smp.pt"
    res = CliRunner().invoke(
        cli, ["models", "import", str(weights), "--format", "smp", "-o", str(ckpt)]
    )
    assert res.exit_code == 0, res.output
    prob, _, _ = predict_float(scene, ckpt, tmp_path / "out", "--tile", str(size))
    with torch.no_grad():
        want = torch.sigmoid(net(x))[0, 0].double().numpy()
    assert want.std() > 0.01
    assert np.abs(prob - want).max() <= 1e-5


# ------------------------------------------------------------------ refusals


def run_import(path, fmt="dlinknet34"):
    return CliRunner().invoke(
        cli, ["models", "import", str(path), "--format", fmt, "-o", str(path.with_suffix(".pt"))]
    )


def one_line_error(res) -> str:
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    return lines[0]


def test_missing_extra_and_misshapen_keys_are_named(tmp_path, dink34):
    state = {k: v for k, v in dink34.state_dict().items()}
    cases = {
        "missing": (
            {k: v for k, v in state.items() if not k.startswith("dblock.dilate3.")},
            "missing key 'dblock.dilate3.weight'",
        ),
        "extra": (
            {**state, "dblock.dilate5.weight": state["dblock.dilate4.weight"]},
            "unexpected key 'dblock.dilate5.weight'",
        ),
        "shape": (
            {**state, "finalconv3.weight": torch.zeros(2, 32, 3, 3)},
            "key 'finalconv3.weight' has shape (2, 32, 3, 3)",
        ),
        "unknown": ({"fc.weight": torch.zeros(3, 3), "fc.bias": torch.zeros(3)}, "unknown layout"),
    }
    for name, (sd, expected) in cases.items():
        path = tmp_path / f"{name}.th"
        torch.save(sd, path)
        line = one_line_error(run_import(path))
        assert expected in line and str(path) in line, line
        assert not path.with_suffix(".pt").exists()


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.th"
    torch.save({"firstconv.weight": torch.zeros(1), "x": Evil()}, path)
    line = one_line_error(run_import(path))
    assert "refused to load" in line and "pickled" in line
    smp_line = one_line_error(run_import(path, "smp"))
    assert "refused" in smp_line


def test_smp_unknown_layouts(tmp_path):
    smp = pytest.importorskip("segmentation_models_pytorch")
    net = smp.Unet(encoder_name="resnet18", encoder_weights=None, classes=3)
    path = tmp_path / "three.pth"
    torch.save(net.state_dict(), path)
    assert "3 classes" in one_line_error(run_import(path, "smp"))
    fpn = smp.FPN(encoder_name="resnet18", encoder_weights=None, classes=1)
    path = tmp_path / "fpn.pth"
    torch.save(fpn.state_dict(), path)
    assert "unknown smp layout" in one_line_error(run_import(path, "smp"))


def test_import_without_output_goes_where_backbone_finds_it(tmp_path, dink34):
    from geoseg.checkpoint import find_latest

    weights = save_released_style(dink34, tmp_path / "w.th")
    models_dir = tmp_path / "models"
    res = CliRunner().invoke(
        cli,
        [
            "models",
            "import",
            str(weights),
            "--format",
            "dlinknet34",
            "--models-dir",
            str(models_dir),
        ],
    )
    assert res.exit_code == 0, res.output
    found = find_latest(models_dir, "dlinknet", "resnet34")
    assert found is not None and str(found) in res.output


def test_import_never_writes_over_its_input(tmp_path, dink34):
    weights = save_released_style(dink34, tmp_path / "w.th")
    before = weights.read_bytes()
    res = CliRunner().invoke(
        cli, ["models", "import", str(weights), "--format", "dlinknet34", "-o", str(weights)]
    )
    assert res.exit_code == 2 and "must not be the weights file" in res.output
    assert weights.read_bytes() == before
