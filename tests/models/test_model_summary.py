import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from geoseg.models import count_parameters, create_model
from geoseg.models.summary import iter_model_table, measure_model


@pytest.mark.parametrize("arch", ["unet", "adlinknet"])
def test_meta_measurement_equals_a_real_forward(arch):
    info = measure_model(arch, "test_resnet", size=64)
    model = create_model(arch, "test_resnet").eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, 64, 64))
    assert info.params == count_parameters(model)
    assert info.gflops == pytest.approx(counter.get_total_flops() / 1e9)
    assert info.gflops > 0


def test_flops_scale_with_area():
    small, large = (measure_model("linknet", "test_resnet", size=s).gflops for s in (64, 128))
    assert large == pytest.approx(4 * small, rel=1e-6)


def test_table_rows_cover_archs_x_backbones():
    rows = list(iter_model_table(["linknet", "dlinknet"], ["resnet34", "xception"], size=64))
    assert [(r.arch, r.backbone) for r in rows] == [
        ("linknet", "resnet34"),
        ("linknet", "xception"),
        ("dlinknet", "resnet34"),
        ("dlinknet", "xception"),
    ]
    assert rows[3].timm_name == "legacy_xception"
    assert abs(rows[2].params - 31.1e6) <= 0.3e6
