"""Tests of model.hardware written against realistic bugs (a boundary of the tensor-core check, a wrong row,
misnamed parameters). The loaders are cached: every test starts from empty caches so
that it exercises the code it names."""
import math

import pytest

from model import hardware
from model.hardware import Accelerator, load_gpu, load_tier, usable_bytes_per_gpu
from model.checks import ParameterError


@pytest.fixture(autouse=True)
def fresh_caches():
    for f in (hardware.hardware_table, hardware.load_gpu, hardware.load_tier):
        f.cache_clear()
    yield
    for f in (hardware.hardware_table, hardware.load_gpu, hardware.load_tier):
        f.cache_clear()


def _toy():
    return Accelerator(name="toy", memory_gb=1.0, memory_bytes=1e9, bandwidth_bytes_per_s=1e9,
                       peak_flops={"fp16": 0.0, "int8": 1.0, "bf16": math.nan, "fp8": math.inf},
                       interconnect_bytes_per_s=math.nan, source="test")


def test_tensor_core_paths_need_a_finite_positive_peak():
    g = _toy()
    assert g.supports("int8") and g.flops("int8") == 1.0          # 1 op/s is still a path
    assert not g.supports("fp16") and not g.supports("bf16") and not g.supports("fp8") and not g.supports("fp4")
    for dtype in ("fp16", "bf16", "fp8", "fp4"):
        with pytest.raises(ParameterError, match=rf"^compute_dtype='{dtype}' is not allowed: compute_dtype must be "
                                                 r"one supported by toy: int8$"):
            g.flops(dtype)


def test_rows_are_read_by_name_and_kind():
    a = load_gpu("a100-80gb")
    assert a.memory_gb == 80.0 and a.memory_bytes == 85_899_345_920 and a.bandwidth_bytes_per_s == 2039e9
    assert a.interconnect_bytes_per_s == 600e9 and math.isnan(a.peak_flops["fp8"]) and a.peak_flops["int8"] == 624e12
    assert "A100 80GB SXM" in a.source and a.name == "a100-80gb"
    t = load_tier("nvme-ssd")
    assert t.usd_per_gb_month == 0.08 and t.name == "nvme-ssd" and t.bandwidth_bytes_per_s > 0 and t.source
    with pytest.raises(ParameterError, match=r"^tier='a100-80gb' is not allowed: tier must be one of hbm, host-dram, "
                                             r"host-dram-pcie5, nvme-ssd, rdma-nic-400g$"):
        load_tier("a100-80gb")
    with pytest.raises(ParameterError, match=r"^gpu='hbm' is not allowed: gpu must be one of a100-40gb, a100-80gb, "
                                             r"h100-80gb, h200-141gb, b200-180gb, gb200-186gb, mi300x-192gb, mi325x-256gb, h800-80gb$"):
        load_gpu("hbm")
    assert math.isnan(hardware._f(float("nan"))) and hardware._f("2") == 2.0


def test_usable_bytes_error_names_memory_utilization():
    with pytest.raises(ParameterError, match=r"^memory_utilization=0\.0 "):
        usable_bytes_per_gpu(load_gpu("a100-80gb"), 0.0)


def test_flops_error_lists_every_supported_type():
    g = Accelerator(name="duo", memory_gb=1.0, memory_bytes=1e9, bandwidth_bytes_per_s=1e9,
                    peak_flops={"fp16": 2.0, "int8": 4.0, "fp8": math.nan}, interconnect_bytes_per_s=1e9, source="t")
    with pytest.raises(ParameterError, match=r"must be one supported by duo: fp16, int8$"):
        g.flops("fp8")
