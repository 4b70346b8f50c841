from numpy.testing import assert_allclose

from model.economics.prices import ApiPrice
from model.economics.token_cost import (api_cost_scenarios, api_monthly_cost, measured_tokens_per_s_per_gpu,
                              modelled_tokens_per_s_per_gpu, self_hosted_usd_per_million_tokens,
                              throughput_for_price)
from model.economics.token_volume import TokenVolume


def test_api_cost_and_caching():
    price = ApiPrice("m", "p", 0.5, 1.5, "2024")
    v = TokenVolume(input_tokens=2e6, cached_input_tokens=1e6, output_tokens=1e6, turns=1)
    assert_allclose(api_monthly_cost(v, price), 2 * 0.5 + 1.5)
    assert_allclose(api_monthly_cost(v, price, cached_discount=0.5), 1 * 0.5 + 0.25 + 1.5)


def test_api_scenarios_by_hand():
    price = ApiPrice("m", "p", 1.0, 1.0, "2024")  # $1 per 1M tokens either way
    t = api_cost_scenarios(price, concurrent_sessions=1, tokens_per_turn=[10, 10, 20], session_minutes=730 * 60,
                           turns_per_session=3, reply_share=0.5, persona_tokens=100, history_cap_tokens=1e9)
    assert len(t) == 6  # duplicate reading dropped, three scenarios each
    row = t[(t.tokens_per_turn == 10)].set_index("scenario")["usd_per_month"]
    # one session a month of 3 turns x 10 new tokens = 30 tokens
    assert_allclose(row["new tokens only"], 30 / 1e6)
    # history re-sent: inputs 5 + 15 + 25 = 45, outputs 15
    assert_allclose(row["history re-sent each turn"], 60 / 1e6)
    assert_allclose(row["history + persona re-sent"], 360 / 1e6)


def test_self_hosted_price_inverse():
    p = self_hosted_usd_per_million_tokens(3.6, 1000, 1.0)
    assert_allclose(p, 1.0)  # $3.6/h for 3.6M tokens/h
    assert_allclose(throughput_for_price(p, 3.6, 1.0), 1000)
    # halving utilisation doubles the price
    assert_allclose(self_hosted_usd_per_million_tokens(3.6, 1000, 0.5), 2.0)


def test_modelled_throughput_below_the_compute_bound():
    """Every processed token costs >= 2 x matmul parameters FLOPs: tokens/s per GPU <= peak / (2 N)."""
    from model.architectures import load_architecture
    from model.hardware import load_gpu

    arch = load_architecture("llama-2-70b")
    for gpu in ("a100-80gb", "h100-80gb"):
        bound = load_gpu(gpu).flops("fp16") / (2 * arch.matmul_parameters())
        x = modelled_tokens_per_s_per_gpu("llama-2-70b", gpu, 4, prompt_tokens=2000, reply_tokens=100)
        assert 0.3 * bound < x < bound
    assert (modelled_tokens_per_s_per_gpu("llama-2-70b", "h100-80gb", 4, prompt_tokens=2000, reply_tokens=100)
            > modelled_tokens_per_s_per_gpu("llama-2-70b", "a100-80gb", 4, prompt_tokens=2000, reply_tokens=100))


def test_measured_throughput_only_at_its_setting():
    assert measured_tokens_per_s_per_gpu("llama-2-70b", "a100-80gb", 4) == 790.5
    assert measured_tokens_per_s_per_gpu("llama-2-70b", "h100-80gb", 4) is None
    assert measured_tokens_per_s_per_gpu("llama-2-70b", "a100-80gb", 8) is None
