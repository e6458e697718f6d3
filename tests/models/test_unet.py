import torch
from model_tester import BaseModelTester

from geoseg.models import count_parameters, create_model


class TestUnet(BaseModelTester):
    arch = "unet"


def test_unet_vgg16_uses_the_stride1_map():
    with torch.device("meta"):
        model = create_model("unet", "vgg16")
    assert model.encoder.reductions == [1, 2, 4, 8, 16, 32]
    # five upsampling steps 32 -> 1, each concatenating the encoder map of its stride
    skips = [model.encoder.reductions[i] for i in model.decoder.skip_indices]
    assert skips == [16, 8, 4, 2, 1]
    assert 18e6 < count_parameters(model) < 20e6  # VGG16 features (14.7 M) + decoder


def test_unet_resnet_last_step_has_no_skip():
    with torch.device("meta"):
        model = create_model("unet", "resnet34")
    assert model.decoder.skip_indices[-1] is None
    assert [model.encoder.reductions[i] for i in model.decoder.skip_indices[:-1]] == [16, 8, 4, 2]
