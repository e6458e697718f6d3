"""One shared model tester (smp's BaseModelTester idea): each arch's test file sets
``arch`` and inherits every check below."""

from __future__ import annotations

import pytest
import torch

from geoseg.models import BACKBONE_ALIASES, create_model

TINY = "test_resnet"  # tiny timm ResNet: the broad matrix stays fast
SEED_BACKBONES = list(BACKBONE_ALIASES)


def main_logits(out):
    return out[0] if isinstance(out, tuple) else out


def all_logits(out) -> list[torch.Tensor]:
    return [out[0], *out[1]] if isinstance(out, tuple) else [out]


class BaseModelTester:
    arch: str = ""

    @pytest.mark.parametrize("size", [(256, 256), (512, 512), (300, 420), (32, 32), (45, 77)])
    def test_output_shape_equals_input(self, size):
        model = create_model(self.arch, TINY).eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, *size))
        assert isinstance(out, torch.Tensor)
        assert out.shape == (1, 1, *size)
        assert torch.isfinite(out).all()

    @pytest.mark.parametrize("in_channels", [3, 4])
    def test_backward_reaches_every_parameter(self, in_channels):
        torch.manual_seed(0)
        model = create_model(self.arch, TINY, in_channels=in_channels).train()
        out = model(torch.randn(2, in_channels, 64, 96))
        for logits in all_logits(out):
            assert logits.shape == (2, 1, 64, 96)
        sum(t.float().mean() for t in all_logits(out)).backward()
        no_grad = [n for n, p in model.named_parameters() if p.grad is None]
        assert no_grad == []
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())
        first = next(p for n, p in model.encoder.named_parameters() if p.ndim == 4)
        assert first.shape[1] == in_channels

    def test_eval_returns_one_tensor(self):
        model = create_model(self.arch, TINY).eval()
        with torch.no_grad():
            out = model(torch.randn(2, 3, 64, 64))
        assert isinstance(out, torch.Tensor) and out.shape == (2, 1, 64, 64)

    def test_attributes_rebuild_the_same_model(self):
        model = create_model(self.arch, TINY, in_channels=4)
        assert (model.arch, model.backbone, model.in_channels) == (self.arch, TINY, 4)
        assert len(model.norm_mean) == len(model.norm_std) == 4
        assert all(isinstance(v, float) for v in model.norm_mean + model.norm_std)
        twin = create_model(model.arch, model.backbone, model.in_channels, **model.model_kwargs)
        twin.load_state_dict(model.state_dict())  # strict: same keys and shapes
        model.eval(), twin.eval()
        x = torch.randn(1, 4, 64, 64)
        with torch.no_grad():
            torch.testing.assert_close(model(x), twin(x))

    def test_autocast_bf16_and_channels_last(self):
        model = create_model(self.arch, TINY).eval().to(memory_format=torch.channels_last)
        x = torch.randn(1, 3, 80, 100).to(memory_format=torch.channels_last)  # padded inside
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        assert out.shape == (1, 1, 80, 100) and torch.isfinite(out.float()).all()

    @pytest.mark.parametrize("backbone", SEED_BACKBONES)
    def test_seed_backbone_predicts(self, backbone):
        # the heavy seed backbones at one small size (backward is covered by TINY above:
        # same decoder code); 64x96 already gives legacy_xception short maps to align
        model = create_model(self.arch, backbone).eval()
        with torch.no_grad():
            pred = model(torch.randn(1, 3, 64, 96))
        assert isinstance(pred, torch.Tensor) and pred.shape == (1, 1, 64, 96)
        assert torch.isfinite(pred).all()
