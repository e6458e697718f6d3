import pytest
import torch

from geoseg.models.base import pad_to_multiple
from geoseg.models.blocks import CBAM, DilatedCenter, LinkNetDecoderBlock, LinkNetHead


def test_dilated_center_sums_x_and_every_serial_stage():
    torch.manual_seed(0)
    centre = DilatedCenter(8, (1, 2, 4)).eval()
    x = torch.randn(1, 8, 20, 20)
    y1 = torch.relu(centre.stages[0](x))
    y2 = torch.relu(centre.stages[1](y1))
    y3 = torch.relu(centre.stages[2](y2))
    torch.testing.assert_close(centre(x), x + y1 + y2 + y3)
    assert [c.dilation for c in centre.stages] == [(1, 1), (2, 2), (4, 4)]
    assert [c.padding for c in centre.stages] == [(1, 1), (2, 2), (4, 4)]


def test_dilated_center_parameter_count():
    # 4 x (3x3 conv 512->512 with bias), as in the reference DinkNet34 DBlock
    centre = DilatedCenter(512)
    assert sum(p.numel() for p in centre.parameters()) == 4 * (512 * 512 * 9 + 512)


def test_linknet_block_doubles_size_and_maps_channels():
    block = LinkNetDecoderBlock(64, 32)
    assert block(torch.randn(1, 64, 7, 9)).shape == (1, 32, 14, 18)
    assert block[0].out_channels == 16  # 1x1 C -> C/4


def test_linknet_head_doubles_size_to_one_channel():
    assert LinkNetHead(64)(torch.randn(1, 64, 5, 6)).shape == (1, 1, 10, 12)


def test_cbam_gates_without_changing_shape():
    x = torch.randn(2, 32, 9, 11)
    y = CBAM(32)(x)
    assert y.shape == x.shape
    assert (y.abs() <= x.abs() + 1e-6).all()  # sigmoid gates only attenuate


@pytest.mark.parametrize("h, w", [(32, 32), (33, 47), (300, 420), (5, 7)])
def test_pad_to_multiple_keeps_the_original_top_left(h, w):
    x = torch.randn(1, 2, h, w)
    y = pad_to_multiple(x, 32)
    assert y.shape[-2] % 32 == 0 and y.shape[-1] % 32 == 0
    assert y.shape[-2] - h < 32 and y.shape[-1] - w < 32
    torch.testing.assert_close(y[..., :h, :w], x)


def test_linknet_head_values_do_not_depend_on_memory_format():
    torch.manual_seed(0)
    head = LinkNetHead(16).eval()
    x = torch.randn(1, 16, 12, 10)
    with torch.no_grad():
        ref = torch.nn.Sequential(*head)(x)  # plain NCHW path
        torch.testing.assert_close(head(x), ref, rtol=1e-5, atol=1e-5)
