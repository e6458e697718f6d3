import pytest
import torch
from model_tester import TINY, BaseModelTester

from geoseg.models import count_parameters, create_model
from geoseg.models.blocks import CBAM, DilatedCenter


class TestLinkNet(BaseModelTester):
    arch = "linknet"


class TestDLinkNet(BaseModelTester):
    arch = "dlinknet"


class TestADLinkNet(BaseModelTester):
    arch = "adlinknet"


def meta_model(arch, backbone, **kw):
    with torch.device("meta"):
        return create_model(arch, backbone, **kw)


def test_dlinknet34_matches_reference_parameter_count():
    # DinkNet34 (Zhou et al. 2018 reference code): 31.1 M parameters
    assert abs(count_parameters(meta_model("dlinknet", "resnet34")) - 31.1e6) <= 0.3e6


@pytest.mark.parametrize(
    "backbone, dilations",
    [
        ("resnet34", (1, 2, 4, 8)),
        ("resnet101", (1, 2, 4, 8, 16)),
        ("xception", (1, 2, 4, 8, 16)),
        ("vgg16", (1, 2, 4, 8)),
    ],
)
def test_centre_dilations_follow_encoder_depth(backbone, dilations):
    centre = meta_model("dlinknet", backbone).decoder.center
    assert isinstance(centre, DilatedCenter) and centre.dilations == dilations


def test_dilations_option_is_recorded():
    model = create_model("dlinknet", TINY, dilations=(1, 3))
    assert model.decoder.center.dilations == (1, 3)
    assert model.model_kwargs == {"dilations": (1, 3)}


def test_linknet_has_no_centre_and_adlinknet_has_attention_everywhere():
    assert isinstance(meta_model("linknet", "resnet34").decoder.center, torch.nn.Identity)
    ad = meta_model("adlinknet", "resnet34")
    assert sum(isinstance(m, CBAM) for m in ad.decoder.attention) == 5


def test_adlinknet_aux_heads_in_train_only():
    model = create_model("adlinknet", TINY).train()
    main, aux = model(torch.randn(2, 3, 100, 70))
    assert main.shape == (2, 1, 100, 70)
    assert len(aux) == 3 and all(a.shape == (2, 1, 100, 70) for a in aux)
    # the auxiliary maps are distinct predictions, not copies of the main one
    assert not any(torch.allclose(a, main) for a in aux)
    model.eval()
    with torch.no_grad():
        assert isinstance(model(torch.randn(2, 3, 100, 70)), torch.Tensor)


def test_adlinknet_without_aux():
    model = create_model("adlinknet", TINY, aux=False).train()
    assert isinstance(model(torch.randn(1, 3, 64, 64)), torch.Tensor)
    assert model.model_kwargs == {"aux": False}


@pytest.mark.slow
def test_adlinknet_xception_at_512():
    # legacy_xception returns 253/127/64/32/16 maps here; smp 0.6 crashes on this
    model = create_model("adlinknet", "xception").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 512, 512))
    assert out.shape == (1, 1, 512, 512) and torch.isfinite(out).all()
