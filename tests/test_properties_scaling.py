"""Property-based tests (Hypothesis, database-free and derandomised) of two invariants of the model's
arithmetic: every cost scales linearly in the prices it is built from, and KV-cache and weight bytes scale
linearly in the bytes per element of their number format (on random architectures)."""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from model.architectures import Architecture
from model.economics.autoscaling import autoscaling_saving
from model.economics.fleet_sizing import fleet_monthly_cost
from model.formats import BITS_PER_ELEMENT, DTYPES, bytes_per_element, weight_bytes
from model.hardware import load_gpu
from model.kv import kv_bytes_per_session, kv_bytes_per_token, memory_budget, paged_session_bytes
from model.economics.prices import ApiPrice, GpuPrice
from model.quantization.weights import monthly_gpu_saving
from model.economics.token_cost import api_monthly_cost, self_hosted_usd_per_million_tokens, throughput_for_price
from model.economics.token_volume import TokenVolume
from model.economics.unit_economics import cost_breakdown

PROFILE = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow])

prices = st.floats(0.01, 100.0)
scales = st.floats(0.1, 50.0)
tokens = st.floats(0.0, 1e12, allow_subnormal=False)


@st.composite
def architectures(draw):
    kv = draw(st.integers(1, 16))
    group = draw(st.integers(1, 8))
    return Architecture(name="random", display_name="random", num_layers=draw(st.integers(1, 128)),
                        hidden_size=draw(st.integers(1, 16_384)), num_attention_heads=kv * group, num_kv_heads=kv,
                        head_dim=draw(st.sampled_from([32, 64, 80, 128, 256])),
                        intermediate_size=draw(st.integers(1, 65_536)), vocab_size=draw(st.integers(1, 256_000)),
                        max_context_tokens=draw(st.integers(1, 1 << 20)), tie_word_embeddings=draw(st.booleans()),
                        published_parameters=1, source="hypothesis")


@PROFILE
@given(architectures(), st.sampled_from(DTYPES), st.sampled_from(DTYPES), st.integers(1, 1 << 20))
def test_kv_and_weight_bytes_are_linear_in_bytes_per_element(arch, d1, d2, context):
    # the definition written out: 2 x layers x KV heads x head width elements per token; parameters() elements
    elements = 2 * arch.num_layers * arch.num_kv_heads * arch.head_dim
    assert kv_bytes_per_token(arch, d1) == elements * BITS_PER_ELEMENT[d1] / 8
    assert weight_bytes(arch, d1) == arch.parameters() * BITS_PER_ELEMENT[d1] / 8
    ratio = BITS_PER_ELEMENT[d2] / BITS_PER_ELEMENT[d1]
    assert_allclose(kv_bytes_per_token(arch, d2), ratio * kv_bytes_per_token(arch, d1), rtol=1e-15)
    assert_allclose(weight_bytes(arch, d2), ratio * weight_bytes(arch, d1), rtol=1e-15)
    assert_allclose(kv_bytes_per_session(arch, context, d2), ratio * kv_bytes_per_session(arch, context, d1),
                    rtol=1e-15)
    # and linear in the context
    assert_allclose(kv_bytes_per_session(arch, 2 * context, d1), 2 * kv_bytes_per_session(arch, context, d1),
                    rtol=1e-15)


@PROFILE
@given(architectures(), st.sampled_from(DTYPES), st.sampled_from(DTYPES), st.integers(1, 4096))
def test_budget_bytes_follow_the_formats(arch, wd, kd, context):
    b = memory_budget(arch, load_gpu("h100-80gb"), context_tokens=context, weight_dtype=wd, kv_dtype=kd)
    assert b.weight_bytes == arch.parameters() * bytes_per_element(wd)
    assert b.kv_bytes_per_session == context * 2 * arch.num_layers * arch.num_kv_heads * arch.head_dim \
        * bytes_per_element(kd)
    # the paged mean over a session's life is linear in the format too
    assert_allclose(paged_session_bytes(arch, context, kd) / bytes_per_element(kd),
                    paged_session_bytes(arch, context, "int8"), rtol=1e-12)


@PROFILE
@given(tokens, tokens, tokens, prices, prices, st.floats(0, 1), scales)
def test_api_cost_is_linear_in_prices(inp, cached_part, out, p_in, p_out, discount, k):
    cached = min(cached_part, inp)
    v = TokenVolume(inp, cached, out, turns=1)
    base = api_monthly_cost(v, ApiPrice("m", "p", p_in, p_out, "d"), cached_discount=discount)
    scaled = api_monthly_cost(v, ApiPrice("m", "p", k * p_in, k * p_out, "d"), cached_discount=discount)
    assert_allclose(scaled, k * base, rtol=1e-12, atol=1e-300)
    # and additive: input and output prices contribute separately
    only_in = api_monthly_cost(v, ApiPrice("m", "p", p_in, 0.0, "d"), cached_discount=discount)
    only_out = api_monthly_cost(v, ApiPrice("m", "p", 0.0, p_out, "d"), cached_discount=discount)
    assert_allclose(only_in + only_out, base, rtol=1e-12, atol=1e-300)
    assert_allclose(only_out, out * p_out / 1e6, rtol=1e-12, atol=1e-300)


@PROFILE
@given(prices, st.floats(1.0, 1e5), st.floats(0.01, 1.0), scales)
def test_self_hosted_price_is_linear_in_the_gpu_price(usd_h, tps, util, k):
    p = self_hosted_usd_per_million_tokens(usd_h, tps, util)
    assert_allclose(self_hosted_usd_per_million_tokens(k * usd_h, tps, util), k * p, rtol=1e-12)
    assert_allclose(p, usd_h / (tps * 3600 * util) * 1e6, rtol=1e-12)
    # the inverse: the throughput a price needs scales like the GPU price
    assert_allclose(throughput_for_price(p, k * usd_h, util), k * tps, rtol=1e-12)


@PROFILE
@given(st.integers(0, 100_000), prices, scales, st.floats(0.5, 1e4), st.floats(0, 1))
def test_fleet_costs_are_linear_in_the_gpu_price(gpus, usd_h, k, peak, trough_share):
    assert_allclose(fleet_monthly_cost(gpus, k * usd_h), k * fleet_monthly_cost(gpus, usd_h), rtol=1e-12)
    assert_allclose(fleet_monthly_cost(gpus, usd_h), gpus * usd_h * 730, rtol=1e-12)
    assert_allclose(GpuPrice("g", "p", "on-demand", k * usd_h, "d", "s").usd_per_gpu_month(),
                    k * usd_h * 730, rtol=1e-12)
    assert_allclose(monthly_gpu_saving(gpus + 10, gpus, k * usd_h), k * monthly_gpu_saving(gpus + 10, gpus, usd_h),
                    rtol=1e-12)
    a = autoscaling_saving(peak_gpus=peak, trough_gpus=peak * trough_share, usd_per_gpu_hour=usd_h, steps_per_day=24)
    b = autoscaling_saving(peak_gpus=peak, trough_gpus=peak * trough_share, usd_per_gpu_hour=k * usd_h,
                           steps_per_day=24)
    assert_allclose(b["saving_usd_per_month"], k * a["saving_usd_per_month"], rtol=1e-12, atol=1e-9)
    assert a["autoscaled_gpu_hours"] == b["autoscaled_gpu_hours"]


@PROFILE
@given(st.lists(st.floats(0.0, 1e6, allow_subnormal=False), min_size=1, max_size=6).filter(lambda xs: sum(xs) > 0), scales)
def test_cost_shares_do_not_depend_on_the_price_level(lines, k):
    a = cost_breakdown({f"l{i}": v for i, v in enumerate(lines)})
    b = cost_breakdown({f"l{i}": k * v for i, v in enumerate(lines)})
    assert_allclose(b["share"], a["share"], rtol=1e-12, atol=1e-15)
    assert_allclose(b["usd_per_month"], k * a["usd_per_month"], rtol=1e-12)
    assert math.isclose(a["share"].iloc[:-1].sum(), 1.0, rel_tol=1e-12)
    assert np.all(a["share"] >= 0)
