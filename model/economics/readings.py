"""Readings of the economics chapter, as tables: the monthly token volume read two ways, what each dated
price of a GPU makes a token and a fleet cost, and the price-per-token curves of several throughputs; and
the chapter's parameters checked in one call."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from model.architectures import available_models
from model.checks import check_choice, check_fraction, check_int, check_nonnegative, check_positive
from model.economics.fleet_sizing import fleet_monthly_cost
from model.economics.prices import GpuPrice, gpu_prices
from model.economics.token_cost import self_hosted_usd_per_million_tokens
from model.economics.token_volume import ChatWorkload, monthly_tokens, stated_product
from model.hardware import available_gpus


def check_economics(*, gpu, model, n_gpus, prompt_tokens, reply_tokens, max_batch, turns_per_session, utilization,
                    reply_share, session_minutes, tokens_per_turn, target_usd_per_million_tokens, fleet_gpus,
                    persona_tokens, history_cap_tokens, session_counts, tokens_per_turn_readings) -> None:
    """Raise :class:`~model.checks.ParameterError` naming the first bad parameter of the economics chapter.

    Parameters
    ----------
    gpu, model : str
        GPU (``data/hardware.csv``) and architecture (``data/models``) names.
    n_gpus, prompt_tokens, reply_tokens, max_batch, turns_per_session : int
        GPUs per replica, tokens per prompt and reply, running sequences, turns per session; each at least 1,
        and ``n_gpus`` enough to hold the model's weights and split its KV heads
        (:func:`model.serving.load_sweep.checked_deployment`).
    utilization : float
        Busy share of paid GPU time, in (0, 1].
    reply_share : float
        Output share of a turn's new tokens, in [0, 1].
    session_minutes, tokens_per_turn, target_usd_per_million_tokens, fleet_gpus : float
        Minutes per session, tokens per turn, USD per 1M tokens, GPUs; each positive.
    persona_tokens, history_cap_tokens : float
        Tokens, each at least 0.
    session_counts, tokens_per_turn_readings : list of float
        Concurrent sessions and tokens per turn, non-empty lists of positive numbers.
    """
    check_choice("gpu", gpu, available_gpus())
    check_choice("model", model, available_models())
    check_int("n_gpus", n_gpus, low=1)
    for name, v in [("prompt_tokens", prompt_tokens), ("reply_tokens", reply_tokens), ("max_batch", max_batch),
                    ("turns_per_session", turns_per_session)]:
        check_int(name, v, low=1)
    check_fraction("utilization", utilization, allow_zero=False)
    check_fraction("reply_share", reply_share)
    for name, v in [("session_minutes", session_minutes), ("tokens_per_turn", tokens_per_turn),
                    ("target_usd_per_million_tokens", target_usd_per_million_tokens), ("fleet_gpus", fleet_gpus)]:
        check_positive(name, v)
    for name, v in [("persona_tokens", persona_tokens), ("history_cap_tokens", history_cap_tokens)]:
        check_nonnegative(name, v)
    if not session_counts:
        check_choice("session_counts", session_counts, ["a non-empty list of concurrent sessions"])
    for i, v in enumerate(session_counts):
        check_positive(f"session_counts[{i}]", v)
    if not tokens_per_turn_readings:
        check_choice("tokens_per_turn_readings", tokens_per_turn_readings, ["a non-empty list of tokens per turn"])
    for i, v in enumerate(tokens_per_turn_readings):
        check_positive(f"tokens_per_turn_readings[{i}]", v)
    from model.serving.load_sweep import checked_deployment

    checked_deployment(model, gpu, n_gpus)              # the replica whose throughput is modelled


def token_volume_table(session_counts: Sequence[float], *, session_minutes: float, turns_per_session: int,
                       tokens_per_turn: float, reply_share: float) -> pd.DataFrame:
    """Monthly tokens of a chat service read two ways, for each number of concurrent sessions.

    Parameters
    ----------
    session_counts : list of float
        Concurrent sessions.
    session_minutes : float
        Mean session length, minutes.
    turns_per_session : int
        Turns per session.
    tokens_per_turn : float
        New tokens per turn (message + reply), tokens.
    reply_share : float
        Output share of a turn's new tokens, in [0, 1].

    Returns
    -------
    pandas.DataFrame
        Two rows per count, ``concurrent_sessions, reading, sessions_per_month, tokens_per_month``: the
        product of the four factors (no sessions per month: NaN), then sessions per month (Little's law)
        × turns × new tokens (tokens per month; history not re-sent).
    """
    rows = []
    for n in session_counts:
        w = ChatWorkload(concurrent_sessions=n, session_minutes=session_minutes, turns_per_session=turns_per_session,
                         tokens_per_turn=tokens_per_turn, reply_share=reply_share, resend_history=False)
        rows += [
            {"concurrent_sessions": n, "reading": "product of the four factors (concurrent × minutes × turns × tokens)",
             "sessions_per_month": np.nan,
             "tokens_per_month": stated_product(n, session_minutes, turns_per_session, tokens_per_turn)},
            {"concurrent_sessions": n, "reading": "sessions per month × turns × new tokens (Little's law)",
             "sessions_per_month": w.sessions_per_month(), "tokens_per_month": monthly_tokens(w).total_tokens},
        ]
    return pd.DataFrame(rows)


def price_sensitivity_table(gpu: str, price: GpuPrice, *, tokens_per_s_modelled: float,
                            tokens_per_s_measured: float | None, utilization: float,
                            fleet_gpus: float) -> pd.DataFrame:
    """What each dated price of ``gpu`` (and a price set by the user) makes a token and a fleet cost.

    Parameters
    ----------
    gpu : str
        GPU name; its rows of ``data/prices/gpu_prices.csv`` are read.
    price : GpuPrice
        The chosen price; added as a row when set by the user.
    tokens_per_s_modelled : float
        Modelled throughput, tokens/s per GPU.
    tokens_per_s_measured : float or None
        Measured throughput, tokens/s per GPU (None: none on record; its column is NaN).
    utilization : float
        Busy share of paid GPU time, in (0, 1].
    fleet_gpus : float
        GPUs of the fleet priced per month.

    Returns
    -------
    pandas.DataFrame
        ``gpu, provider, pricing, date, usd_per_gpu_hour`` (USD/GPU-hour), ``usd_per_million_tokens`` and
        ``usd_per_million_tokens_measured`` (USD per 1M tokens), ``fleet_usd_per_month`` (USD/month), by
        increasing GPU price.
    """
    rows = gpu_prices()
    rows = rows[rows["gpu"] == gpu].copy()
    if price.set_by_user:
        rows = pd.concat([rows, pd.DataFrame([{"gpu": gpu, "provider": price.provider, "pricing": price.pricing,
                                               "usd_per_gpu_hour": price.usd_per_gpu_hour, "date": price.date}])],
                         ignore_index=True)
    rows["usd_per_million_tokens"] = [self_hosted_usd_per_million_tokens(p, tokens_per_s_modelled, utilization)
                                      for p in rows["usd_per_gpu_hour"]]
    rows["usd_per_million_tokens_measured"] = [np.nan if tokens_per_s_measured is None else
                                               self_hosted_usd_per_million_tokens(p, tokens_per_s_measured,
                                                                                  utilization)
                                               for p in rows["usd_per_gpu_hour"]]
    rows["fleet_usd_per_month"] = [fleet_monthly_cost(fleet_gpus, p) for p in rows["usd_per_gpu_hour"]]
    return rows[["gpu", "provider", "pricing", "date", "usd_per_gpu_hour", "usd_per_million_tokens",
                 "usd_per_million_tokens_measured", "fleet_usd_per_month"]].sort_values(
                     "usd_per_gpu_hour").reset_index(drop=True)


def price_curves(usd_per_gpu_hour: Sequence[float], throughputs: Sequence[tuple[float, str]],
                 utilization: float) -> pd.DataFrame:
    """Self-hosted price per token against the GPU price, one curve per throughput.

    Parameters
    ----------
    usd_per_gpu_hour : list of float
        GPU prices, USD/GPU-hour.
    throughputs : list of (float, str)
        Throughput (tokens/s per GPU) and what it is (``"modelled"``), one curve each.
    utilization : float
        Busy share of paid GPU time, in (0, 1].

    Returns
    -------
    pandas.DataFrame
        ``usd_per_gpu_hour``, ``throughput`` (the curve's legend: ``"2,345 tok/s/GPU (modelled)"``) and
        ``usd_per_million_tokens`` (USD per 1M tokens), price by price.
    """
    return pd.DataFrame([
        {"usd_per_gpu_hour": p, "throughput": f"{tps:,.0f} tok/s/GPU ({label})",
         "usd_per_million_tokens": self_hosted_usd_per_million_tokens(p, tps, utilization)}
        for p in usd_per_gpu_hour for tps, label in throughputs
    ])


def unit_economics_table(ue) -> pd.DataFrame:
    """A service's unit economics as one table row.

    Parameters
    ----------
    ue : UnitEconomics
        :class:`model.economics.unit_economics.UnitEconomics` (or any object with its fields).

    Returns
    -------
    pandas.DataFrame
        One row: ``mau`` and ``paid_users`` (users), ``revenue_usd_per_month``, ``cost_usd_per_month`` and
        ``gross_profit_usd_per_month`` (USD/month), ``gross_margin`` (as ``ue`` gives it) and
        ``cost_per_mau_usd`` (USD per user per month).
    """
    return pd.DataFrame([{"mau": ue.mau, "paid_users": ue.paid_users, "revenue_usd_per_month": ue.revenue,
                          "cost_usd_per_month": ue.monthly_cost, "gross_profit_usd_per_month": ue.gross_profit,
                          "gross_margin": ue.gross_margin, "cost_per_mau_usd": ue.cost_per_mau}])
