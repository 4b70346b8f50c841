"""model.serving.kv_transfer by hand: a link's time (latency + bytes ÷ bandwidth), the links loaded from
data/hardware.csv and data/parameters/, the checks of a link, and the bytes each GPU pair moves under tensor
parallelism (Llama 2 70B's published config.json: 80 layers, 8 KV heads of 128)."""
import math
from dataclasses import replace

import pytest
from numpy.testing import assert_allclose

import model.serving.kv_transfer as kvt
from model.architectures import load_architecture
from model.checks import ParameterError
from model.hardware import load_gpu
from model.parameters import default
from model.serving.kv_transfer import LINKS, NIC_TIER, Link, kv_transfer_bytes_per_gpu, load_link

NIC_BYTES_PER_S = 50e9              # data/hardware.csv rdma-nic-400g: 400 Gb/s
H100_NVLINK_PER_DIRECTION = 450e9   # data/hardware.csv h100-80gb: 900 GB/s both directions


def test_link_time_by_hand():
    link = Link("nic", 2e9, 1e-3)
    assert_allclose(link.transfer_s(3e9), 1e-3 + 1.5, rtol=1e-12)
    assert Link("nvlink", 1e9).latency_s == 0.0
    assert Link("free", math.inf).transfer_s(1e12) == 0.0


def test_a_bad_link_names_its_parameter():
    with pytest.raises(ParameterError, match=r"^link='pcie' is not allowed: link must be one of 'nic', 'nvlink', "
                                             r"'free'$"):
        Link("pcie", 1e9)
    for bw in (0.0, -1.0, math.nan):
        with pytest.raises(ParameterError, match=rf"^bandwidth_bytes_per_s={bw!r} is not allowed: "
                                                 r"bandwidth_bytes_per_s must be a bandwidth > 0 bytes/s$"):
            Link("nic", bw)
    assert Link("nic", 0.5).transfer_s(1.0) == 2.0   # any bandwidth above 0, however small
    with pytest.raises(ParameterError, match="^latency_s=-1"):
        Link("nic", 1e9, -1.0)
    Link("nic", 1e9, 0.0)  # no latency is allowed
    with pytest.raises(ParameterError, match="^link='pcie'"):
        load_link("pcie", load_gpu("h100-80gb"))


def test_links_loaded_from_the_data():
    h100 = load_gpu("h100-80gb")
    lat = default("kv_transfer_latency_s")
    nic = load_link("nic", h100)
    assert (nic.name, nic.latency_s) == ("nic", lat)
    assert_allclose(nic.bandwidth_bytes_per_s, NIC_BYTES_PER_S * default("plan_nics_per_gpu"), rtol=1e-12)
    nv = load_link("nvlink", h100, latency_s=2e-5)
    assert (nv.name, nv.latency_s) == ("nvlink", 2e-5)
    assert_allclose(nv.bandwidth_bytes_per_s, H100_NVLINK_PER_DIRECTION, rtol=1e-12)
    assert load_link("nvlink", h100).latency_s == lat
    assert load_link("nic", h100, latency_s=3e-6).latency_s == 3e-6
    free = load_link("free", h100)
    assert (free.name, free.bandwidth_bytes_per_s, free.latency_s) == ("free", math.inf, 0.0)
    assert load_link("free", h100, latency_s=1e-3).latency_s == 1e-3
    assert LINKS == ("nic", "nvlink", "free") and NIC_TIER == "rdma-nic-400g"


def test_the_nic_link_counts_the_nics_per_gpu_and_the_cited_latency(monkeypatch):
    """Two NICs per GPU double the link; the cited latency is the default (values substituted to show the
    arithmetic: the data's are one NIC and 0 s)."""
    values = {"plan_nics_per_gpu": 2.0, "kv_transfer_latency_s": 7e-6}
    monkeypatch.setattr(kvt, "default", lambda name: values[name])
    h100 = load_gpu("h100-80gb")
    nic = load_link("nic", h100)
    assert_allclose(nic.bandwidth_bytes_per_s, 2 * NIC_BYTES_PER_S, rtol=1e-12)
    assert nic.latency_s == 7e-6 and load_link("nvlink", h100).latency_s == 7e-6
    assert load_link("free", h100).latency_s == 0.0


def test_a_gpu_without_nvlink_is_refused():
    gpu = replace(load_gpu("h100-80gb"), name="no-link", scaleup_bytes_per_s_per_direction=math.nan)
    with pytest.raises(ParameterError, match=r"^link='nvlink' is not allowed: link must be nic or free: no-link has "
                                             r"no NVLink in data/hardware.csv$"):
        load_link("nvlink", gpu)
    with pytest.raises(ParameterError, match="no-link has no NVLink"):
        load_link("nvlink", replace(gpu, scaleup_bytes_per_s_per_direction=0.0))
    assert load_link("nic", gpu).name == "nic"
    slow = load_link("nvlink", replace(gpu, scaleup_bytes_per_s_per_direction=0.5), latency_s=0.0)
    assert slow.bandwidth_bytes_per_s == 0.5


def test_bytes_per_gpu_pair_by_hand():
    """Llama 2 70B, 1000 tokens, FP16: 2 × 80 × 8 × 128 × 2 × 1000 bytes, split over min(TP_p, TP_d) GPUs."""
    arch = load_architecture("llama-2-70b")
    whole = 2 * 80 * 8 * 128 * 2 * 1000
    assert_allclose(kv_transfer_bytes_per_gpu(arch, 1000, "fp16", 8, 4), whole / 4, rtol=1e-12)
    assert_allclose(kv_transfer_bytes_per_gpu(arch, 1000, "fp16", 2, 8), whole / 2, rtol=1e-12)
    assert_allclose(kv_transfer_bytes_per_gpu(arch, 1000, "fp8", 1, 1), whole / 2, rtol=1e-12)
