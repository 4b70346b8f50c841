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


# Vendor datasheet figures typed here independently of data/hardware.csv, per GPU: HBM GB, HBM GB/s, dense BF16,
# FP8 and FP4 TFLOP/s (None: no FP4 path), scale-up GB/s per direction, TDP W. B200: DGX B200 datasheet (1,440 GB and
# 64 TB/s for 8 GPUs; 144/72/36 PFLOPS FP4/FP8/BF16 with sparsity per 8 GPUs; NVLink 5 1.8 TB/s); GB200: GB200 NVL72
# (13.4 TB, 576 TB/s, 1,440/720/360 PFLOPS sparse per 72 GPUs, 130 TB/s NVLink); MI300X/MI325X: AMD data sheets.
NEW_GPUS = {
    "b200-180gb": (1440 / 8, 64_000 / 8, 36_000 / 8 / 2, 72_000 / 8 / 2, 144_000 / 8 / 2, 1800 / 2, 1000),
    "gb200-186gb": (13_400 / 72, 576_000 / 72, 360_000 / 72 / 2, 720_000 / 72 / 2, 1_440_000 / 72 / 2,
                    130_000 / 72 / 2, 1200),
    "mi300x-192gb": (192, 5300, 1307.4, 2614.9, None, 7 * 128 / 2, 750),
    "mi325x-256gb": (256, 6000, 1307.4, 2614.9, None, 7 * 128 / 2, 1000),
}


@pytest.mark.parametrize("name", sorted(NEW_GPUS))
def test_new_gpu_rows_match_datasheets(name):
    gpu = load_gpu(name)
    mem, bw, bf16, fp8, fp4, link, tdp = NEW_GPUS[name]
    assert_allclose(gpu.memory_bytes, mem * 1e9, rtol=0.01)
    assert_allclose(gpu.bandwidth_bytes_per_s, bw * 1e9, rtol=0.01)
    assert_allclose(gpu.flops("bf16"), bf16 * 1e12, rtol=0.01)
    assert_allclose(gpu.flops("fp8"), fp8 * 1e12, rtol=0.01)
    assert_allclose(gpu.scaleup_bytes_per_s_per_direction, link * 1e9, rtol=0.01)
    assert gpu.tdp_watts == tdp
    if fp4 is None:
        assert not gpu.supports("fp4")
    else:
        assert_allclose(gpu.flops("fp4"), fp4 * 1e12, rtol=0.01)


def test_fp4_on_a_gpu_without_it_is_a_clear_error_not_nan():
    for name in ("a100-80gb", "h100-80gb", "h200-141gb", "mi300x-192gb", "mi325x-256gb"):
        with pytest.raises(ParameterError, match=rf"^compute_dtype='fp4' is not allowed: compute_dtype must be one "
                                                 rf"supported by {name}: "):
            load_gpu(name).flops("fp4")
    assert load_gpu("b200-180gb").flops("fp4") == 2 * load_gpu("b200-180gb").flops("fp8")


def test_scale_up_per_direction_is_half_the_quoted_total():
    for name in ("a100-80gb", "h100-80gb", "b200-180gb", "gb200-186gb", "mi300x-192gb"):
        g = load_gpu(name)
        assert g.scaleup_bytes_per_s_per_direction == g.interconnect_bytes_per_s / 2
    assert load_gpu("h100-80gb").tdp_watts == 700 and load_gpu("a100-80gb").tdp_watts == 400


def test_h800_is_an_h100_sxm_with_400_gb_s_nvlink():
    """DeepSeek's ISCA 2025 paper, section 4.1: H800 SXM = Hopper like the H100, NVLink cut from 900 to 400 GB/s
    (both directions together); H100 SXM datasheet: 3.35 TB/s, 1,979 BF16 and 3,958 FP8 TFLOPS with sparsity."""
    h800 = load_gpu("h800-80gb")
    assert_allclose(h800.interconnect_bytes_per_s, 400e9, rtol=1e-9)
    assert_allclose(h800.scaleup_bytes_per_s_per_direction, 400e9 / 2, rtol=1e-9)
    assert_allclose(h800.bandwidth_bytes_per_s, 3.35e12, rtol=1e-9)
    assert_allclose(h800.flops("bf16"), 1979e12 / 2, rtol=0.001)
    assert_allclose(h800.flops("fp8"), 3958e12 / 2, rtol=0.001)
    assert h800.memory_bytes == load_gpu("h100-80gb").memory_bytes and not h800.supports("fp4")


# AMD's published Max-Achievable FLOPs (ROCm blogs, "Measuring Max-Achievable FLOPs - Part 2", Table 1), typed here
# independently of data/hardware.csv: TFLOPs FP16, BF16, FP8.
AMD_MAF = {"mi300x-192gb": (654, 708, 1273), "mi325x-256gb": (794, 843, 1519)}


@pytest.mark.parametrize("name", sorted(AMD_MAF))
def test_amd_achievable_flops_are_the_published_maf(name):
    gpu = load_gpu(name)
    for dtype, tflops in zip(("fp16", "bf16", "fp8"), AMD_MAF[name]):
        assert_allclose(gpu.sustained_flops(dtype), tflops * 1e12, rtol=1e-12)
        assert gpu.sustained_flops(dtype) < gpu.flops(dtype)  # below the datasheet peak: the clock falls under load
    assert_allclose(gpu.sustained_flops("int8"), gpu.flops("int8"), rtol=0)  # no MAF published for INT8


@pytest.mark.parametrize("name", ["a100-80gb", "h100-80gb", "h200-141gb", "b200-180gb", "gb200-186gb"])
def test_nvidia_parts_keep_the_datasheet_peak(name):
    gpu = load_gpu(name)
    for dtype in ("fp16", "bf16"):
        assert_allclose(gpu.sustained_flops(dtype), gpu.flops(dtype), rtol=0)
