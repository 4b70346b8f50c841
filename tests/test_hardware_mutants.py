"""Tests of model.hardware written against realistic bugs (a boundary of the tensor-core check, a wrong row,
the price fallbacks, misnamed parameters). The loaders are cached: every test starts from empty caches so
that it exercises the code it names."""
import math

import pandas as pd
import pytest

from model import hardware, prices
from model.hardware import Accelerator, gpu_hour_price, gpu_hour_prices, load_gpu, load_tier, usable_bytes_per_gpu
from model.validation import ParameterError


@pytest.fixture(autouse=True)
def fresh_caches():
    for f in (hardware.hardware_table, hardware.load_gpu, hardware.load_tier, prices.gpu_prices):
        f.cache_clear()
    yield
    for f in (hardware.hardware_table, hardware.load_gpu, hardware.load_tier, prices.gpu_prices):
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
                                             r"h100-80gb, h200-141gb$"):
        load_gpu("hbm")
    assert math.isnan(hardware._f(float("nan"))) and hardware._f("2") == 2.0


def test_usable_bytes_error_names_memory_utilization():
    with pytest.raises(ParameterError, match=r"^memory_utilization=0\.0 "):
        usable_bytes_per_gpu(load_gpu("a100-80gb"), 0.0)


def test_gpu_hour_prices_rows_by_hand():
    rows = gpu_hour_prices("h100-80gb")
    # oldest first, cheapest first within a date: the 2025-05 AWS row, then 2026-09-25 from RunPod's 2.69 up
    assert (rows[0].date, rows[0].usd_per_gpu_hour, rows[0].provider) == ("2025-05", 12.29, "aws")
    assert [r.usd_per_gpu_hour for r in rows[1:4]] == [2.69, 3.49, 3.85]
    assert all(r.source for r in rows) and rows[0].pricing == "on-demand"
    with pytest.raises(ParameterError, match=r"^gpu='b200' "):
        gpu_hour_prices("b200")


def test_gpu_hour_price_choice_by_hand():
    assert gpu_hour_price("h100-80gb", "gcp", "spot").usd_per_gpu_hour == 6.571
    assert gpu_hour_price("h100-80gb", "gcp").usd_per_gpu_hour == 10.9791       # of one date, the highest
    assert gpu_hour_price("h100-80gb", pricing="spot").provider == "gcp"          # the latest spot row
    with pytest.raises(ParameterError, match=r"^provider/pricing='aws/spot' is not allowed: provider/pricing must be "
                                             r"one of aws/on-demand, azure/on-demand, coreweave/neocloud, gcp/on-demand, "
                                             r"gcp/spot, lambda/neocloud, nebius/neocloud, runpod/neocloud, "
                                             r"vast/neocloud$"):
        gpu_hour_price("h100-80gb", "aws", "spot")


def test_gpu_hour_price_fallbacks(monkeypatch):
    table = pd.DataFrame([
        # no AWS on-demand row: the latest on-demand row (not the later spot one)
        ("x", "gcp", "on-demand", 5.0, "2026-01", "s1"), ("x", "gcp", "spot", 1.0, "2026-06", "s2"),
        # no on-demand row at all: the latest row
        ("y", "vast", "neocloud", 2.0, "2026-01", "s3"), ("y", "lambda", "neocloud", 3.0, "2026-02", "s4"),
        # the AWS on-demand row even if another on-demand row is later
        ("z", "aws", "on-demand", 9.0, "2025-01", "s5"), ("z", "azure", "on-demand", 8.0, "2026-01", "s6"),
    ], columns=["gpu", "provider", "pricing", "usd_per_gpu_hour", "date", "source"])
    monkeypatch.setattr(hardware, "_gpu_price_rows", lambda: table)
    assert gpu_hour_price("x").usd_per_gpu_hour == 5.0
    assert gpu_hour_price("y").usd_per_gpu_hour == 3.0
    assert gpu_hour_price("z").usd_per_gpu_hour == 9.0
    assert hardware.DEFAULT_PRICE_BASIS == ("aws", "on-demand")
    p = gpu_hour_price("y")
    assert (p.gpu, p.provider, p.pricing, p.date, p.source) == ("y", "lambda", "neocloud", "2026-02", "s4")
    assert p.label == "lambda neocloud, 2026-02"


def test_flops_error_lists_every_supported_type():
    g = Accelerator(name="duo", memory_gb=1.0, memory_bytes=1e9, bandwidth_bytes_per_s=1e9,
                    peak_flops={"fp16": 2.0, "int8": 4.0, "fp8": math.nan}, interconnect_bytes_per_s=1e9, source="t")
    with pytest.raises(ParameterError, match=r"must be one supported by duo: fp16, int8$"):
        g.flops("fp8")
