import math

import pytest
from numpy.testing import assert_allclose

from model.hardware import available_gpus, available_tiers, hardware_table, load_gpu, load_tier
from model.checks import ParameterError

# Datasheet figures typed here independently of data/hardware.csv (NVIDIA A100 datasheet, H100 datasheet,
# dense tensor throughput): HBM GB/s, BF16 TFLOP/s, INT8 TOP/s.
DATASHEET = {
    "a100-40gb": (1555, 312, 624),
    "a100-80gb": (2039, 312, 624),
    "h100-80gb": (3350, 989, 1979),
}


@pytest.mark.parametrize("name", sorted(DATASHEET))
def test_gpu_rows_match_datasheets(name):
    gpu = load_gpu(name)
    bw, bf16, int8 = DATASHEET[name]
    assert_allclose(gpu.bandwidth_bytes_per_s, bw * 1e9, rtol=0.01)
    assert_allclose(gpu.flops("bf16"), bf16 * 1e12, rtol=0.01)
    assert_allclose(gpu.flops("int8"), int8 * 1e12, rtol=0.01)


def test_memory_sizes():
    assert_allclose(load_gpu("a100-80gb").memory_bytes, 80e9, rtol=0.08)  # 80 GB or 80 GiB
    assert load_gpu("a100-80gb").memory_bytes > load_gpu("a100-40gb").memory_bytes
    assert load_gpu("h200-141gb").memory_bytes > load_gpu("h100-80gb").memory_bytes


def test_a100_has_no_fp8():
    with pytest.raises(ParameterError, match="compute_dtype"):
        load_gpu("a100-80gb").flops("fp8")


def test_tiers_are_slower_and_cheaper_than_hbm():
    dram, ssd = load_tier("host-dram"), load_tier("nvme-ssd")
    hbm_bw = load_gpu("a100-80gb").bandwidth_bytes_per_s
    assert ssd.bandwidth_bytes_per_s < dram.bandwidth_bytes_per_s < hbm_bw
    assert math.isfinite(dram.usd_per_gb_month) and math.isfinite(ssd.usd_per_gb_month)
    assert ssd.usd_per_gb_month < dram.usd_per_gb_month


def test_every_row_has_a_source():
    table = hardware_table()
    assert table["source"].fillna("").str.len().min() > 10
    assert {"a100-40gb", "a100-80gb", "h100-80gb", "h200-141gb"} <= set(available_gpus())
    assert {"host-dram", "nvme-ssd"} <= set(available_tiers())


def test_unknown_gpu():
    with pytest.raises(ParameterError, match="gpu='tpu-v9'"):
        load_gpu("tpu-v9")


def test_usable_bytes_per_gpu():
    from model.hardware import usable_bytes_per_gpu
    from model.quantization.weights import usable_bytes_per_gpu as old_path
    g = load_gpu("a100-80gb")
    assert old_path is usable_bytes_per_gpu
    assert usable_bytes_per_gpu(g) == pytest.approx(0.9 * 85_899_345_920, rel=1e-12)
    assert usable_bytes_per_gpu(g, 0.5) == pytest.approx(0.5 * 85_899_345_920, rel=1e-12)
    with pytest.raises(ParameterError, match="memory_utilization"):
        usable_bytes_per_gpu(g, 0.0)


def test_supports_follows_the_datasheet():
    a100, h100 = load_gpu("a100-80gb"), load_gpu("h100-80gb")
    assert a100.supports("int8") and a100.supports("fp16") and not a100.supports("fp8")
    assert h100.supports("fp8") and not a100.supports("fp4")
