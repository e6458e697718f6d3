"""create_model's attributes are enough to rebuild a model from a geoseg checkpoint."""

import torch

from geoseg.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from geoseg.models import create_model
from geoseg.normalize import Normalizer


def test_adlinknet_survives_a_safe_checkpoint(tmp_path):
    model = create_model("adlinknet", "test_resnet", in_channels=4, dilations=(1, 2, 4), aux=True)
    normalizer = Normalizer.for_dtype("uint16", model.norm_mean, model.norm_std)
    path = save_checkpoint(
        tmp_path / "m.pt",
        {
            "arch": model.arch,
            "backbone": model.backbone,
            "in_channels": model.in_channels,
            "model_kwargs": model.model_kwargs,
            "normalizer": normalizer.to_dict(),
            "state_dict": model.state_dict(),
        },
    )
    rebuilt = model_from_checkpoint(load_checkpoint(path))  # weights_only=True load
    assert rebuilt.decoder.center.dilations == (1, 2, 4)
    model.eval(), rebuilt.eval()
    x = torch.randn(1, 4, 64, 80)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x))
