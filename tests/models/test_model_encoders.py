import pytest
import timm
import torch

from geoseg.errors import ModelError
from geoseg.models import create_model, encoders
from geoseg.models.encoders import build_encoder, normalization

EXPECTED = {
    "vgg16": ([64, 128, 256, 512, 512, 512], [1, 2, 4, 8, 16, 32]),
    "resnet34": ([64, 64, 128, 256, 512], [2, 4, 8, 16, 32]),
    "resnet101": ([64, 256, 512, 1024, 2048], [2, 4, 8, 16, 32]),
    "xception": ([64, 128, 256, 728, 2048], [2, 4, 8, 16, 32]),
    "test_resnet": ([32, 32, 48, 192, 96], [2, 4, 8, 16, 32]),
}


@pytest.mark.parametrize("backbone", list(EXPECTED))
def test_feature_info_matches_real_outputs(backbone):
    enc = build_encoder(backbone).eval()
    assert (enc.channels, enc.reductions) == EXPECTED[backbone]
    with torch.no_grad():
        feats = enc(torch.randn(1, 3, 64, 96))
    assert [f.shape[1] for f in feats] == enc.channels
    assert [tuple(f.shape[-2:]) for f in feats] == [(64 // r, 96 // r) for r in enc.reductions]


def test_xception_maps_are_aligned_to_the_nominal_stride():
    enc = build_encoder("xception").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        raw = [tuple(f.shape[-2:]) for f in enc.body(x)]
        aligned = [tuple(f.shape[-2:]) for f in enc(x)]
    assert raw[:2] == [(29, 29), (15, 15)]  # what timm gives: short of 32 / 16
    assert aligned == [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]


def test_normalization_from_timm_config():
    assert normalization(build_encoder("resnet34"), 3) == (
        [0.485, 0.456, 0.406],
        [0.229, 0.224, 0.225],
    )
    mean, std = normalization(build_encoder("test_resnet"), 5)
    assert mean == [0.5] * 5 and std == [0.5] * 5
    mean4, _std4 = create_model("linknet", "resnet34", in_channels=4).norm_mean, None
    assert mean4[:3] == [0.485, 0.456, 0.406]
    assert mean4[3] == pytest.approx((0.485 + 0.456 + 0.406) / 3)


def test_weights_file_roundtrip(tmp_path):
    src = timm.create_model("test_resnet")  # full classifier model, as users save it
    path = tmp_path / "w.pth"
    torch.save(src.state_dict(), path)
    model = create_model("dlinknet", "test_resnet", encoder_weights=str(path))
    reference = src.state_dict()
    loaded = model.encoder.body.state_dict()
    assert len(loaded) > 50
    assert all(torch.equal(v, reference[k]) for k, v in loaded.items())
    four = create_model("linknet", "test_resnet", in_channels=4, encoder_weights=path)
    assert four.encoder.body.conv1[0].weight.shape[1] == 4


def test_weights_file_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        create_model("unet", "test_resnet", encoder_weights=tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a state dict")
    with pytest.raises(ModelError, match="bad.pth: could not load encoder weights"):
        create_model("unet", "test_resnet", encoder_weights=bad)
    other = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18").state_dict(), other)
    with pytest.raises(ModelError, match="could not load encoder weights into test_resnet"):
        create_model("unet", "test_resnet", encoder_weights=other)


def test_imagenet_offline_is_a_clear_error(monkeypatch):
    real = encoders._create_body

    def offline(name, in_channels, pretrained, **kw):
        if pretrained:
            raise OSError("Name or service not known")
        return real(name, in_channels, pretrained, **kw)

    monkeypatch.setattr(encoders, "_create_body", offline)
    # the host answered the connection check, then the download itself failed
    monkeypatch.setattr("geoseg.models.weights.check_imagenet_download", lambda name: None)
    monkeypatch.setattr("geoseg.models.weights.weights_cached", lambda name: False)
    with pytest.raises(
        ModelError, match="could not be downloaded.*--encoder-weights none or a local file"
    ):
        create_model("linknet", "test_resnet", encoder_weights="imagenet")


def test_fixed_size_backbone_is_rejected():
    with pytest.raises(ModelError, match="fixed input size \\(224x224\\)"):
        build_encoder("swin_tiny_patch4_window7_224")


def test_non_pyramid_check():
    enc = build_encoder("test_resnet")
    enc.reductions = [16, 16, 16]
    with pytest.raises(ModelError, match="feature pyramid"):
        encoders._checked(enc, "flat")


def test_backbone_without_features_only_is_a_model_error(monkeypatch):
    def no_features(*args, **kw):
        raise RuntimeError("features_only not implemented for Vision Transformer models.")

    monkeypatch.setattr(encoders, "_create_body", no_features)
    with pytest.raises(ModelError, match="'resnet34' cannot be used as an encoder.*features_only"):
        build_encoder("resnet34")
    with pytest.raises(ModelError, match="cannot be used as an encoder"):
        build_encoder("resnet34", encoder_weights="imagenet")
