"""model.tiering.config by hand: tiers and configurations on a small engine written here (1,000 KV bytes per token,
blocks of 512 tokens: 512,000 bytes a block), their refusals, TTLs and variations; the default HBM → DRAM → SSD
hierarchy from data/hardware.csv's rows and the default configuration of Llama 2 70B on 4 × A100 80GB."""
import math
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.serving.step_time import deployment
from model.tiering.config import (COST_BASES, EVICTION_POLICIES, TIMING_MODELS, Tier, TierConfig, blocks_for_gb,
                                  default_config, default_tiers)
from model.tiering.engine import PrefillEngine

# data/hardware.csv: host-dram 32 GB/s at $3.093 per GB-month, host-dram-pcie5 64 GB/s, nvme-ssd 7.0 GB/s at $0.08;
# a100-80gb 2,039 GB/s
DRAM_BPS, DRAM_PCIE5_BPS, SSD_BPS, A100_BPS = 32e9, 64e9, 7.0e9, 2039e9
DRAM_USD, SSD_USD = 3.093, 0.08
# data/parameters: tiering_dram_gb_per_instance 1024, tiering_ssd_gb_per_instance 7680, mooncake_block_tokens 512
# Llama 2 70B: 2 (K and V) × 80 layers × 8 KV heads × 128 × 2 bytes = 327,680 bytes per token
LLAMA2_70B_KV = 2 * 80 * 8 * 128 * 2


def engine(**kw):
    base = dict(name="e", s_token=1e-4, s_pair=0.0, s_sequence=0.0, m_fixed=0.0, m_token=0.0, s_allreduce=0.0,
                kv_bytes_per_token=1000.0, gpus_per_instance=2, n_instances=1, gpu_usd_per_hour=2.0)
    base.update(kw)
    return PrefillEngine(**base)


def tier(name="dram", capacity=10, read=1e9, write=2e9, usd=1.0):
    return Tier(name, capacity, read, write, usd)


def config(**kw):
    base = dict(tiers=(tier("hbm", 10, usd=0.0), tier("dram", 0), tier("ssd", math.inf)), engine=engine())
    base.update(kw)
    return TierConfig(**base)


def refused(fn, *args, **kw) -> ParameterError:
    with pytest.raises(ParameterError) as err:
        fn(*args, **kw)
    return err.value


def test_choices():
    assert EVICTION_POLICIES == ("lru", "fifo") and COST_BASES == ("provisioned", "occupied")
    assert TIMING_MODELS == ("recursion", "simpy")


def test_tier_capacities_accepted():
    for c in (0, 7, np.int64(3), 4.0, 0.0, 1.0, math.inf):
        assert tier(capacity=c).capacity_blocks == c


@pytest.mark.parametrize("bad", [4.5, -1, -1.0, np.int64(-2), True, "3", None, -math.inf, math.nan])
def test_tier_capacities_refused(bad):
    e = refused(tier, capacity=bad)
    assert (e.name, e.allowed) == ("dram.capacity_blocks", "an integer >= 0 or math.inf")
    assert e.value is bad


def test_tier_refusals_name_the_tier():
    for bad in ("", 5, None):
        e = refused(Tier, bad, 1, 1e9, 1e9, 0.0)
        assert (e.name, e.value, e.allowed) == ("name", bad, "a non-empty string")
    assert refused(tier, "ssd", read=0.0).name == "ssd.read_bytes_per_s"
    assert refused(tier, "ssd", write=0.0).name == "ssd.write_bytes_per_s"
    e = refused(tier, "ssd", usd=-0.01)
    assert (e.name, e.allowed) == ("ssd.usd_per_gb_month", "a finite number in [0, inf]")
    assert tier(usd=0.0).usd_per_gb_month == 0.0


def test_config_defaults_and_derived_figures():
    c = config()
    assert (c.block_tokens, c.eviction, c.default_ttl_s, c.ttl_by_group, c.cost_basis) == (
        512, "lru", math.inf, (), "provisioned")
    assert c.tier_names == ("hbm", "dram", "ssd") and c.capacities == (10, 0, math.inf)
    assert_allclose(c.block_bytes, 512 * 1000.0, rtol=0)
    # 10 blocks × 512,000 bytes = 0.00512 GB
    assert_allclose(c.capacity_gb(), [0.00512, 0.0, math.inf], rtol=1e-12)
    assert c.capacity_gb().dtype == np.float64
    assert not c.has_ttl()
    assert config(tiers=[tier("hbm")]).tiers == (tier("hbm"),)        # a list is kept as a tuple
    # a capacity past int64 is still read as a float: 1e20 blocks × 512,000 bytes = 5.12e16 GB
    big = config(tiers=(tier("hbm", 10**20),)).capacity_gb()
    assert big.dtype == np.float64
    assert_allclose(big, [5.12e16], rtol=1e-12)


def test_config_refusals():
    e = refused(config, tiers=())
    assert (e.name, e.allowed) == ("tiers", "a non-empty sequence of Tier")
    e = refused(config, tiers=(tier("hbm"), "dram"))
    assert (e.name, e.value) == ("tiers", (tier("hbm"), "dram"))
    e = refused(config, tiers=(tier("hbm"), tier("dram"), tier("hbm")))
    assert (e.name, e.value, e.allowed) == ("tiers", ["hbm", "dram", "hbm"], "tiers with distinct names")
    assert refused(config, block_tokens=0).name == "block_tokens"
    assert config(block_tokens=1).block_bytes == 1000.0
    e = refused(config, eviction="lfu")
    assert (e.name, e.allowed) == ("eviction", "one of 'lru', 'fifo'")
    e = refused(config, cost_basis="used")
    assert (e.name, e.allowed) == ("cost_basis", "one of 'provisioned', 'occupied'")
    assert config(eviction="fifo", cost_basis="occupied").eviction == "fifo"
    assert refused(config, default_ttl_s=-1.0).name == "default_ttl_s"
    assert refused(config, default_ttl_s=-math.inf).name == "default_ttl_s"
    assert refused(config, default_ttl_s=math.nan).name == "default_ttl_s"
    e = refused(config, ttl_by_group={"a": -5.0})
    assert (e.name, e.allowed) == ("ttl_by_group['a']", "a finite number in [0, inf]")


def test_ttl_by_group_sorted_pairs_of_str_and_float():
    c = config(default_ttl_s=0, ttl_by_group={"b": 5, "a": math.inf, 3: 1})
    assert c.ttl_by_group == (("3", 1.0), ("a", math.inf), ("b", 5.0))
    assert all(type(v) is float for _, v in c.ttl_by_group)
    assert config(ttl_by_group=[("z", 2), ("y", 1)]).ttl_by_group == (("y", 1.0), ("z", 2.0))
    assert c.ttl_for("b") == 5.0 and c.ttl_for("a") == math.inf and c.ttl_for("other") == 0
    assert config(default_ttl_s=60.0).ttl_for("b") == 60.0


def test_has_ttl():
    assert config(default_ttl_s=600.0).has_ttl()
    assert config(ttl_by_group={"a": math.inf, "b": 30.0}).has_ttl()
    assert not config(ttl_by_group={"a": math.inf}).has_ttl()


def test_variations():
    c = config(ttl_by_group={"a": 5.0}, default_ttl_s=100.0)
    d = c.with_capacities(dram=7, ssd=0)
    assert d.capacities == (10, 7, 0) and c.capacities == (10, 0, math.inf)
    assert d.tiers[1] == tier("dram", 7)
    e = refused(c.with_capacities, x=1, dram=2, z=3)
    assert (e.name, e.value, e.allowed) == ("tier", ["x", "z"], "one of hbm, dram, ssd")
    t = c.with_ttl(default_ttl_s=60.0)
    assert (t.default_ttl_s, t.ttl_by_group) == (60.0, (("a", 5.0),))
    t = c.with_ttl(by_group={"b": 1.0})
    assert (t.default_ttl_s, t.ttl_by_group) == (100.0, (("b", 1.0),))
    t = c.with_ttl()
    assert (t.default_ttl_s, t.ttl_by_group) == (100.0, (("a", 5.0),))
    i = c.with_instances(3)
    assert i.engine.n_instances == 3 and i.engine.gpus_per_instance == 2 and i.engine.n_gpus == 6
    assert i.engine.kv_bytes_per_token == 1000.0 and i.tiers == c.tiers


def test_default_tiers_from_the_hardware_rows():
    h, d, s = default_tiers(hbm_blocks=100, dram_blocks=10, ssd_blocks=5, hbm_read_bytes_per_s=2e12)
    assert h == Tier("hbm", 100, 2e12, 2e12, 0.0)
    assert (d.name, d.capacity_blocks, s.name, s.capacity_blocks) == ("dram", 10, "ssd", 5)
    assert_allclose([d.read_bytes_per_s, d.write_bytes_per_s, d.usd_per_gb_month], [DRAM_BPS, DRAM_BPS, DRAM_USD],
                    rtol=1e-12)
    assert_allclose([s.read_bytes_per_s, s.write_bytes_per_s, s.usd_per_gb_month], [SSD_BPS, SSD_BPS, SSD_USD],
                    rtol=1e-12)
    _, d0, s0 = default_tiers(hbm_blocks=1, hbm_read_bytes_per_s=1e12)
    assert (d0.capacity_blocks, s0.capacity_blocks) == (0, 0)
    # 4 links: 4 × 32 GB/s to DRAM and, one drive per link, 4 × 7 GB/s from SSD; 2 drives: 2 × 7 GB/s
    _, d4, s4 = default_tiers(hbm_blocks=1, hbm_read_bytes_per_s=1e12, links_per_tier=4)
    assert_allclose([d4.read_bytes_per_s, d4.write_bytes_per_s, s4.read_bytes_per_s, s4.write_bytes_per_s],
                    [4 * DRAM_BPS, 4 * DRAM_BPS, 4 * SSD_BPS, 4 * SSD_BPS], rtol=1e-12)
    _, d5, s2 = default_tiers(hbm_blocks=1, hbm_read_bytes_per_s=1e12, links_per_tier=4, ssd_drives=2,
                              dram_tier="host-dram-pcie5")
    assert_allclose([d5.read_bytes_per_s, s2.read_bytes_per_s, s2.write_bytes_per_s],
                    [4 * DRAM_PCIE5_BPS, 2 * SSD_BPS, 2 * SSD_BPS], rtol=1e-12)
    e = refused(default_tiers, hbm_blocks=1, hbm_read_bytes_per_s=1e12, links_per_tier=0)
    assert (e.name, e.allowed) == ("links_per_tier", "an integer in [1, inf]")
    e = refused(default_tiers, hbm_blocks=1, hbm_read_bytes_per_s=1e12, ssd_drives=0)
    assert (e.name, e.allowed) == ("ssd_drives", "an integer in [1, inf]")


def test_default_config_of_llama2_70b_on_a100s():
    c = default_config(gpus_per_instance=4, n_instances=2)
    block = 512 * LLAMA2_70B_KV                                   # 167,772,160 bytes
    assert c.block_tokens == 512 and c.engine.kv_bytes_per_token == LLAMA2_70B_KV
    assert c.engine.gpus_per_instance == 4 and c.engine.n_instances == 2
    # HBM: per instance the KV budget of 4 × A100 (the step-time model's deployment: usable memory − weights)
    budget = deployment("llama-2-70b", "a100-80gb", 4).kv_budget_bytes
    # DRAM 2 × 1,024 GB and SSD 2 × 7,680 GB in whole blocks: 12,207.03 and 91,552.73
    assert c.capacities == (2 * (budget // block), 2048e9 // block, 15360e9 // block) == (2040, 12207, 91552)
    assert all(type(x) is int for x in c.capacities)
    assert_allclose([t.read_bytes_per_s for t in c.tiers], [4 * A100_BPS, 4 * DRAM_BPS, 4 * SSD_BPS], rtol=1e-12)
    assert c.engine.gpu_usd_per_hour == 3.4309                    # data/prices: aws on-demand a100-80gb


def test_default_config_defaults_and_other_gpus():
    c = default_config()
    # one instance of tiering_gpus_per_instance = 4 GPUs: 171,284,348,928 // 167,772,160 = 1,020 HBM blocks,
    # 1,024 GB -> 6,103 blocks, 7,680 GB -> 45,776 blocks
    assert (c.engine.n_instances, c.engine.gpus_per_instance) == (1, 4)
    assert c.capacities == (1020, 6103, 45776)
    # 8 GPUs an instance: 8 × 80 GiB × 0.9 usable − 137.95 GB of FP16 weights ≈ 480.5 GB of KV = 2,864.1 blocks
    assert default_config(gpus_per_instance=8).capacities == (2864, 6103, 45776)
    # 8 × H100 with blocks of 10 million tokens (3.2768 TB each): the HBM budget holds no whole block, the SSD's
    # 7,680 GB two
    h = default_config(gpu="h100-80gb", gpus_per_instance=8, block_tokens=10**7)
    assert h.engine.gpus_per_instance == 8 and h.engine.name.endswith(" on 8 x h100-80gb")
    assert h.capacities == (0, 0, 2)
    assert_allclose(h.tiers[0].read_bytes_per_s, 8 * 3350e9, rtol=1e-12)   # data/hardware.csv h100-80gb 3,350 GB/s
    # whole blocks of 1 token (327,680 bytes): 3,276,799,999.5 bytes hold 9,999 of them, not 10,000
    w = default_config(gpus_per_instance=4, block_tokens=1, dram_gb=3.2767999995, ssd_gb=3.2767999995)
    assert w.capacities[1:] == (9999, 9999)
    assert default_config(gpus_per_instance=4, ssd_tier="host-dram").tiers[2].read_bytes_per_s == 4 * DRAM_BPS


def test_default_config_overrides():
    c = default_config(gpus_per_instance=4, hbm_blocks=5, dram_gb=1.0, ssd_gb=10.0, block_tokens=256,
                       gpu_usd_per_hour=2.5, dram_tier="host-dram-pcie5", ssd_drives=1, eviction="fifo",
                       default_ttl_s=60.0)
    block = 256 * LLAMA2_70B_KV                                   # 83,886,080 bytes
    # 1 GB / block = 11.92 -> 11; 10 GB / block = 119.2 -> 119
    assert c.block_tokens == 256 and c.capacities == (5, int(1e9 // block), int(10e9 // block)) == (5, 11, 119)
    assert (c.eviction, c.default_ttl_s, c.engine.gpu_usd_per_hour) == ("fifo", 60.0, 2.5)
    assert_allclose([c.tiers[1].read_bytes_per_s, c.tiers[2].read_bytes_per_s], [4 * DRAM_PCIE5_BPS, SSD_BPS],
                    rtol=1e-12)


def test_blocks_for_gb():
    c = config()                                                  # 512,000 bytes a block
    assert blocks_for_gb(1.0, c) == 1953                          # 1e9 / 512,000 = 1,953.125
    assert blocks_for_gb(0, c) == 0 and type(blocks_for_gb(1.0, c)) is int
    assert blocks_for_gb(0.001024, c) == 2                        # exactly 2 blocks
    # 1-byte blocks: 0.9999999995 GB = 999,999,999.5 bytes hold 999,999,999 whole blocks
    one_byte = config(engine=engine(kv_bytes_per_token=1.0), block_tokens=1)
    assert blocks_for_gb(0.9999999995, one_byte) == 999_999_999
    # blocks of 0.1 byte as a double (0.1000000000000000055...): ten of them are more than 1 byte, so 1 byte
    # (1e-9 GB) holds 9 whole blocks; checked in exact rationals
    tenth = config(engine=engine(kv_bytes_per_token=0.1), block_tokens=1)
    n = blocks_for_gb(1e-9, tenth)
    assert Fraction(n) * Fraction(0.1) <= Fraction(1e-9 * 1e9) < Fraction(n + 1) * Fraction(0.1)
    assert n == 9
    e = refused(blocks_for_gb, -1.0, c)
    assert (e.name, e.allowed) == ("gb", "a finite number in [0, inf]")
