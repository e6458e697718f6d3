"""Device and precision policy: bf16 on CPUs that compute it natively, fp32 elsewhere."""

import pytest
import torch

from geoseg import device as devmod
from geoseg.device import amp_dtype, autocast, cpu_has_native_bf16, resolve_device
from geoseg.errors import GeoSegError

FLAGS = "processor\t: 0\nflags\t\t: fpu sse sse2 avx2 avx512f {extra}\nbogomips\t: 4000\n"


@pytest.mark.parametrize(
    "extra, native",
    [("amx_bf16 amx_tile", True), ("avx512_bf16", True), ("avx512bw avx512vl", False), ("", False)],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, extra, native):
    info = tmp_path / "cpuinfo"
    info.write_text(FLAGS.format(extra=extra))
    assert cpu_has_native_bf16(str(info)) is native


def test_unreadable_cpuinfo_means_fp32(tmp_path):
    assert cpu_has_native_bf16(str(tmp_path / "missing")) is False


def test_cpu_precision_follows_the_hardware(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(devmod, "cpu_has_native_bf16", lambda: False)
    assert amp_dtype(cpu) is None
    with autocast(cpu):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    monkeypatch.setattr(devmod, "cpu_has_native_bf16", lambda: True)
    assert amp_dtype(cpu) == torch.bfloat16
    with autocast(cpu):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast(cpu, enabled=False):  # --no-amp / train.amp: false
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_resolve_device_names_the_problem():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(GeoSegError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(GeoSegError, match="CUDA is not available"):
            resolve_device("cuda")
