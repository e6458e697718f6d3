import pytest
import torch

from geoseg.errors import GeoSegError, ModelError
from geoseg.models import (
    ARCHS,
    BACKBONE_ALIASES,
    SegmentationModel,
    count_parameters,
    create_model,
    list_archs,
    register_arch,
)


def test_builtin_archs_and_aliases():
    assert list_archs() == ["adlinknet", "dlinknet", "linknet", "unet"]
    assert BACKBONE_ALIASES["xception"] == "legacy_xception"


def test_unknown_arch_lists_valid_names():
    valid = "adlinknet, dlinknet, linknet, unet"
    with pytest.raises(ModelError, match=f"unknown architecture 'dlinknett'.*{valid}"):
        create_model("dlinknett", "resnet34")


def test_unknown_backbone_lists_aliases_and_timm():
    with pytest.raises(GeoSegError) as info:
        create_model("unet", "resnet3")
    msg = str(info.value)
    assert all(a in msg for a in BACKBONE_ALIASES)
    assert "any timm model with features_only" in msg and "did you mean resnet34" in msg


def test_bad_options_and_channels_are_model_errors():
    with pytest.raises(ModelError, match="does not accept"):
        create_model("linknet", "test_resnet", dilations=(1, 2))
    with pytest.raises(ModelError, match="in_channels"):
        create_model("linknet", "test_resnet", in_channels=0)


def test_any_timm_backbone_passes_through():
    model = create_model("linknet", "resnet18").eval()
    assert model.backbone == "resnet18" and model.encoder.timm_name == "resnet18"
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1, 64, 64)


def test_register_arch_adds_a_buildable_architecture():
    @register_arch("plain_head")
    def _builder(encoder):
        decoder = lambda feats: [torch.nn.functional.interpolate(feats[-1], scale_factor=32.0)]
        head = torch.nn.Conv2d(encoder.channels[-1], 1, 1)

        class Decoder(torch.nn.Module):
            forward = staticmethod(decoder)

        return SegmentationModel(encoder, Decoder(), head)

    try:
        assert "plain_head" in list_archs()
        model = create_model("plain_head", "test_resnet")
        assert model.arch == "plain_head"
        assert model(torch.randn(1, 3, 40, 50)).shape == (1, 1, 40, 50)
        assert count_parameters(model) == count_parameters(model.encoder) + 96 + 1
    finally:
        ARCHS.pop("plain_head")


@pytest.mark.parametrize("backbone", ["convnext_tiny", "efficientnet_b0", "densenet121"])
@pytest.mark.parametrize("arch", ["unet", "adlinknet"])
def test_other_timm_families_fit_every_size(arch, backbone):
    # shapes only, traced on the meta device (no memory, no compute)
    with torch.device("meta"):
        model = create_model(arch, backbone).eval()
        out = model(torch.empty(1, 3, 300, 420))
    assert out.shape == (1, 1, 300, 420)
