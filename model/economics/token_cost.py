"""Price per token: an API's bill for a token volume, and the price per token of rented GPUs from their
hourly price, throughput and utilisation.

Units: USD, tokens, seconds; API prices per 1M tokens.
"""

from __future__ import annotations

import pandas as pd

from model.economics.prices import ApiPrice
from model.economics.token_volume import ChatWorkload, TokenVolume, monthly_tokens
from model.checks import check_fraction, check_positive

MILLION = 1e6
SECONDS_PER_HOUR = 3600.0


def api_monthly_cost(volume: TokenVolume, price: ApiPrice, *, cached_discount: float = 0.0) -> float:
    """USD per month of ``volume`` at an API's prices; cached input tokens cost (1 − ``cached_discount``)
    of the input price."""
    d = check_fraction("cached_discount", cached_discount)
    return (volume.new_input_tokens * price.usd_per_1m_input
            + volume.cached_input_tokens * price.usd_per_1m_input * (1.0 - d)
            + volume.output_tokens * price.usd_per_1m_output) / MILLION


def api_cost_scenarios(price: ApiPrice, *, concurrent_sessions: float, tokens_per_turn: list[float],
                       session_minutes: float, turns_per_session: int, reply_share: float,
                       persona_tokens: float, history_cap_tokens: float) -> pd.DataFrame:
    """Monthly API cost of ``concurrent_sessions`` sessions for each reading of ``tokens_per_turn`` and
    three readings of what each turn sends (new tokens only; history re-sent; history + persona re-sent).

    Columns: scenario, tokens_per_turn, input_tokens, output_tokens, usd_per_month.
    """
    rows = []
    for tpt in dict.fromkeys(tokens_per_turn):
        for name, kw in [
            ("new tokens only", dict(resend_history=False)),
            ("history re-sent each turn", dict(resend_history=True, history_cap_tokens=history_cap_tokens)),
            ("history + persona re-sent", dict(resend_history=True, history_cap_tokens=history_cap_tokens,
                                               persona_tokens=persona_tokens)),
        ]:
            w = ChatWorkload(concurrent_sessions=concurrent_sessions, session_minutes=session_minutes,
                             turns_per_session=turns_per_session, tokens_per_turn=tpt, reply_share=reply_share, **kw)
            v = monthly_tokens(w)
            rows.append({"scenario": name, "tokens_per_turn": tpt, "input_tokens": v.input_tokens,
                         "output_tokens": v.output_tokens, "usd_per_month": api_monthly_cost(v, price)})
    return pd.DataFrame(rows)


def modelled_tokens_per_s_per_gpu(model: str = "llama-2-70b", gpu: str = "a100-80gb", n_gpus: int = 4, *,
                                  prompt_tokens: int, reply_tokens: int, max_batch: int = 256) -> float:
    """Input + output tokens processed per second per GPU by a continuously batched replica at saturation:
    :func:`model.serving.saturation.continuous_saturation` (roofline step times with the cited MFU/MBU), requests of
    ``prompt_tokens`` + ``reply_tokens``, ``n_gpus`` tensor-parallel GPUs, at most ``max_batch`` sequences.
    """
    from model.serving.saturation import continuous_saturation
    from model.serving.step_time import deployment

    check_positive("prompt_tokens", prompt_tokens)
    check_positive("reply_tokens", reply_tokens)
    dep = deployment(model, gpu, n_gpus)
    sat = continuous_saturation(dep, [prompt_tokens], [reply_tokens], max_batch=max_batch)
    return sat.requests_per_s * (prompt_tokens + reply_tokens) / n_gpus


#: The setting of the measured throughput ``econ_self_hosted_tokens_per_s_per_gpu`` (data/parameters:
#: LMDeploy, Llama-2-70B, tensor parallel 4 on A100-80G): (model, gpu, GPUs per replica).
MEASURED_THROUGHPUT_SETTING = ("llama-2-70b", "a100-80gb", 4)


def measured_tokens_per_s_per_gpu(model: str, gpu: str, n_gpus: int) -> float | None:
    """The cited measured throughput per GPU (data/parameters ``econ_self_hosted_tokens_per_s_per_gpu``) if
    ``model``/``gpu``/``n_gpus`` are its setting (:data:`MEASURED_THROUGHPUT_SETTING`), else ``None`` (no
    measurement of that setting is on record)."""
    from model.parameters import default

    if (model, gpu, int(n_gpus)) == MEASURED_THROUGHPUT_SETTING:
        return default("econ_self_hosted_tokens_per_s_per_gpu")
    return None


def self_hosted_usd_per_million_tokens(usd_per_gpu_hour: float, tokens_per_s_per_gpu: float,
                                       utilization: float) -> float:
    """USD per 1M tokens served by rented GPUs: GPU price ÷ (throughput × 3600 s × utilisation) × 1e6.

    Parameters
    ----------
    usd_per_gpu_hour : price of one GPU-hour, USD.
    tokens_per_s_per_gpu : tokens processed per second per GPU when busy (saturation throughput).
    utilization : share of paid GPU time spent busy, (0, 1].
    """
    check_positive("usd_per_gpu_hour", usd_per_gpu_hour)
    check_positive("tokens_per_s_per_gpu", tokens_per_s_per_gpu)
    check_fraction("utilization", utilization, allow_zero=False)
    return usd_per_gpu_hour / (tokens_per_s_per_gpu * SECONDS_PER_HOUR * utilization) * MILLION


def throughput_for_price(usd_per_million_tokens: float, usd_per_gpu_hour: float, utilization: float) -> float:
    """Tokens per second per GPU needed to serve at ``usd_per_million_tokens`` (inverse of
    :func:`self_hosted_usd_per_million_tokens`)."""
    check_positive("usd_per_million_tokens", usd_per_million_tokens)
    check_positive("usd_per_gpu_hour", usd_per_gpu_hour)
    check_fraction("utilization", utilization, allow_zero=False)
    return usd_per_gpu_hour / (usd_per_million_tokens / MILLION) / SECONDS_PER_HOUR / utilization
