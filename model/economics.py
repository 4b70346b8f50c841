"""Economics of chat serving: token volume from sessions, API vs. self-hosted price per token, fleet cost,
autoscaling over a diurnal load curve, cost breakdown and unit economics — and the audit of the case
study's money figures (T1, T2, T9, L11, T12, SWOT, roadmap).

Units: tokens, USD, hours; a "month" is ``hours_per_month`` hours (730, data/parameters).
Prices come from ``data/prices/`` (dated and cited rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from model.audit.verdicts import stated_value
from model.io import DATA
from model.parameters import default
from model.validation import (ParameterError, check_choice, check_fraction, check_int, check_nonnegative,
                              check_number, check_positive, check_shares)

PRICES_DIR = DATA / "prices"
GPU_PRICE_COLUMNS = ["gpu", "provider", "pricing", "usd_per_gpu_hour", "date", "source", "notes"]
API_PRICE_COLUMNS = ["model", "provider", "usd_per_1m_input_tokens", "usd_per_1m_output_tokens", "date",
                     "source", "notes"]
MILLION = 1e6
SECONDS_PER_HOUR = 3600.0
MINUTES_PER_HOUR = 60.0


def hours_per_month() -> float:
    """Hours in the study's month (data/parameters: ``hours_per_month``)."""
    return default("hours_per_month")


# --- prices -----------------------------------------------------------------------------------------------

def _price_table(name: str, columns: list[str], numeric: tuple[str, ...]) -> pd.DataFrame:
    """``data/prices/<name>`` with its ``columns`` checked and its ``numeric`` columns as floats."""
    table = pd.read_csv(PRICES_DIR / name, dtype={"date": str}, keep_default_na=False)
    missing = set(columns) - set(table.columns)
    if missing:
        raise ValueError(f"data/prices/{name}: missing columns {sorted(missing)}")
    for col in numeric:
        table[col] = table[col].astype(float)
    return table


@lru_cache(maxsize=1)
def gpu_prices() -> pd.DataFrame:
    """Dated, cited GPU rental prices (``data/prices/gpu_prices.csv``), USD per GPU-hour."""
    return _price_table("gpu_prices.csv", GPU_PRICE_COLUMNS, ("usd_per_gpu_hour",))


@lru_cache(maxsize=1)
def api_prices() -> pd.DataFrame:
    """Dated, cited API prices (``data/prices/api_prices.csv``), USD per 1M input / output tokens."""
    return _price_table("api_prices.csv", API_PRICE_COLUMNS, ("usd_per_1m_input_tokens", "usd_per_1m_output_tokens"))


@dataclass(frozen=True)
class GpuPrice:
    """One dated GPU price row."""

    gpu: str
    provider: str
    pricing: str
    usd_per_gpu_hour: float
    date: str
    source: str

    @property
    def label(self) -> str:
        return f"{self.provider} {self.pricing} {self.gpu}, {self.date}"

    def usd_per_gpu_month(self) -> float:
        """USD for one GPU over a month of :func:`hours_per_month` hours."""
        return self.usd_per_gpu_hour * hours_per_month()


def gpu_price(gpu: str, provider: str, pricing: str | None = None, date: str | None = None) -> GpuPrice:
    """The price of ``gpu`` from ``provider`` under ``pricing`` (``None``: any pricing of that provider);
    the latest dated row unless ``date`` is given (several rows of one provider and date, e.g. RunPod
    community vs. secure cloud: the highest).
    """
    table = gpu_prices()
    check_choice("gpu", gpu, sorted(table["gpu"].unique()))
    rows = table[(table["gpu"] == gpu) & (table["provider"] == provider)
                 & ((table["pricing"] == pricing) if pricing is not None else True)]
    if rows.empty:
        options = table[table["gpu"] == gpu][["provider", "pricing"]].drop_duplicates()
        raise ParameterError("provider/pricing", f"{provider}/{pricing}",
                             "one of " + ", ".join(f"{p}/{q}" for p, q in options.itertuples(index=False)))
    if date is not None:
        check_choice("date", date, sorted(rows["date"].unique()))
        rows = rows[rows["date"] == date]
    rows = rows.sort_values(["date", "usd_per_gpu_hour"])
    r = rows.iloc[-1]
    return GpuPrice(r["gpu"], r["provider"], r["pricing"], float(r["usd_per_gpu_hour"]), r["date"], r["source"])


@dataclass(frozen=True)
class ApiPrice:
    """One API price row, USD per 1M tokens."""

    model: str
    provider: str
    usd_per_1m_input: float
    usd_per_1m_output: float
    date: str


def api_price(model: str, provider: str = "openai") -> ApiPrice:
    """The API price of ``model`` (e.g. ``"gpt-3.5-turbo-0125"``) at ``provider``."""
    table = api_prices()
    rows = table[(table["model"] == model) & (table["provider"] == provider)]
    if rows.empty:
        raise ParameterError("model/provider", f"{model}/{provider}",
                             "one of " + ", ".join(f"{m}/{p}" for m, p in
                                                   table[["model", "provider"]].itertuples(index=False)))
    r = rows.iloc[-1]
    return ApiPrice(r["model"], r["provider"], float(r["usd_per_1m_input_tokens"]),
                    float(r["usd_per_1m_output_tokens"]), r["date"])


# --- token volume -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChatWorkload:
    """Sessions of a chat service and the tokens each turn carries.

    Attributes
    ----------
    concurrent_sessions : float
        Mean number of sessions open at any time (≥ 0).
    session_minutes : float
        Mean length of a session, minutes.
    turns_per_session : int
        Turns (one user message + one reply) per session.
    tokens_per_turn : float
        New tokens per turn: the user message plus the reply.
    reply_share : float
        Share of ``tokens_per_turn`` that is the reply (output tokens), in [0, 1].
    persona_tokens : float
        System prompt (character persona) sent with every turn, tokens.
    resend_history : bool
        Whether every turn re-sends the conversation so far (the stateless chat-API pattern).
    history_cap_tokens : float
        Most history tokens re-sent per turn (a context window or the kept history; ``inf`` = all).
    cached_input_share : float
        Share of input tokens served from a prompt (prefix) cache, in [0, 1].
    """

    concurrent_sessions: float
    session_minutes: float
    turns_per_session: int
    tokens_per_turn: float
    reply_share: float
    persona_tokens: float = 0.0
    resend_history: bool = True
    history_cap_tokens: float = math.inf
    cached_input_share: float = 0.0

    def __post_init__(self):
        check_nonnegative("concurrent_sessions", self.concurrent_sessions)
        check_positive("session_minutes", self.session_minutes)
        check_int("turns_per_session", self.turns_per_session, low=1)
        check_nonnegative("tokens_per_turn", self.tokens_per_turn)
        check_fraction("reply_share", self.reply_share)
        check_nonnegative("persona_tokens", self.persona_tokens)
        if not (self.history_cap_tokens == math.inf):
            check_nonnegative("history_cap_tokens", self.history_cap_tokens)
        check_fraction("cached_input_share", self.cached_input_share)

    def sessions_per_month(self) -> float:
        """Sessions started per month: concurrent × (minutes per month / session minutes) (Little's law)."""
        return self.concurrent_sessions * hours_per_month() * MINUTES_PER_HOUR / self.session_minutes

    def turns_per_month(self) -> float:
        """Turns per month over all sessions."""
        return self.sessions_per_month() * self.turns_per_session

    def input_tokens_by_turn(self) -> np.ndarray:
        """Input tokens of turn 1..N of a session: persona + re-sent history (capped) + the user message."""
        k = np.arange(self.turns_per_session, dtype=float)
        history = np.minimum(k * self.tokens_per_turn, self.history_cap_tokens) if self.resend_history else 0.0 * k
        return self.persona_tokens + history + self.tokens_per_turn * (1.0 - self.reply_share)

    def output_tokens_per_turn(self) -> float:
        return self.tokens_per_turn * self.reply_share


@dataclass(frozen=True)
class TokenVolume:
    """Tokens per month.

    Attributes
    ----------
    input_tokens, cached_input_tokens, output_tokens : float
        Per month; ``cached_input_tokens`` is the part of ``input_tokens`` served from a prompt cache.
    turns : float
        Turns per month.
    """

    input_tokens: float
    cached_input_tokens: float
    output_tokens: float
    turns: float

    @property
    def total_tokens(self) -> float:
        return self.input_tokens + self.output_tokens

    @property
    def new_input_tokens(self) -> float:
        """Input tokens not served from a cache."""
        return self.input_tokens - self.cached_input_tokens


def monthly_tokens(w: ChatWorkload) -> TokenVolume:
    """Tokens per month of workload ``w`` (input re-sends persona and history as ``w`` says)."""
    sessions = w.sessions_per_month()
    inputs = sessions * float(w.input_tokens_by_turn().sum())
    outputs = sessions * w.turns_per_session * w.output_tokens_per_turn()
    return TokenVolume(inputs, inputs * w.cached_input_share, outputs, w.turns_per_month())


def stated_product(*factors: float) -> float:
    """Plain product of figures as a source multiplies them (to show what its own formula gives)."""
    return float(np.prod([check_number("factor", f) for f in factors]))


def api_monthly_cost(volume: TokenVolume, price: ApiPrice, *, cached_discount: float = 0.0) -> float:
    """USD per month of ``volume`` at an API's prices; cached input tokens cost (1 − ``cached_discount``)
    of the input price."""
    d = check_fraction("cached_discount", cached_discount)
    return (volume.new_input_tokens * price.usd_per_1m_input
            + volume.cached_input_tokens * price.usd_per_1m_input * (1.0 - d)
            + volume.output_tokens * price.usd_per_1m_output) / MILLION


def modelled_tokens_per_s_per_gpu(model: str = "llama-2-70b", gpu: str = "a100-80gb", n_gpus: int = 4, *,
                                  prompt_tokens: int, reply_tokens: int, max_batch: int = 256) -> float:
    """Input + output tokens processed per second per GPU by a continuously batched replica at saturation:
    :func:`model.batching.continuous_saturation` (roofline step times with the cited MFU/MBU), requests of
    ``prompt_tokens`` + ``reply_tokens``, ``n_gpus`` tensor-parallel GPUs, at most ``max_batch`` sequences.
    """
    from model.batching import continuous_saturation, deployment

    check_positive("prompt_tokens", prompt_tokens)
    check_positive("reply_tokens", reply_tokens)
    dep = deployment(model, gpu, n_gpus)
    sat = continuous_saturation(dep, [prompt_tokens], [reply_tokens], max_batch=max_batch)
    return sat.requests_per_s * (prompt_tokens + reply_tokens) / n_gpus


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


# --- fleet ------------------------------------------------------------------------------------------------

def gpus_for_sessions(concurrent_sessions: float, sessions_per_gpu: float, *, spare_share: float = 0.0) -> int:
    """GPUs to hold ``concurrent_sessions`` at ``sessions_per_gpu`` each (the capacity at the latency
    target), plus ``spare_share`` hot spares, rounded up."""
    check_nonnegative("concurrent_sessions", concurrent_sessions)
    check_positive("sessions_per_gpu", sessions_per_gpu)
    spare = check_nonnegative("spare_share", spare_share)
    return int(math.ceil(concurrent_sessions / sessions_per_gpu * (1.0 + spare) - 1e-9))


def fleet_monthly_cost(gpus: float, usd_per_gpu_hour: float) -> float:
    """USD per month of ``gpus`` GPUs rented all month."""
    check_nonnegative("gpus", gpus)
    check_positive("usd_per_gpu_hour", usd_per_gpu_hour)
    return gpus * usd_per_gpu_hour * hours_per_month()


def diurnal_load(hours: np.ndarray, *, peak: float, trough: float, peak_hour: float = 21.0) -> np.ndarray:
    """A sinusoidal day: load ``peak`` at ``peak_hour`` and ``trough`` twelve hours later.

    The case study gives only the two ends (1,200 GPUs in the evening-to-night peak, 600 in the early
    morning, §11); a sinusoid is the least-informative curve through them (its mean is their midpoint).
    """
    check_positive("peak", peak)
    check_number("trough", trough, low=0.0, high=peak)
    check_number("peak_hour", peak_hour, low=0.0, high=24.0)
    h = np.asarray(hours, dtype=float)
    mid, amp = (peak + trough) / 2.0, (peak - trough) / 2.0
    return mid + amp * np.cos(2.0 * np.pi * (h - peak_hour) / 24.0)


def autoscaled_gpu_hours(load_gpus: np.ndarray, *, step_hours: float) -> float:
    """GPU-hours of a fleet that follows ``load_gpus`` (whole GPUs, rounded up each step)."""
    check_positive("step_hours", step_hours)
    load = np.asarray(load_gpus, dtype=float)
    if (load < 0).any():
        raise ParameterError("load_gpus", float(load.min()), "non-negative GPU counts")
    return float(np.ceil(load - 1e-9).sum() * step_hours)


def autoscaling_saving(*, peak_gpus: float, trough_gpus: float, usd_per_gpu_hour: float,
                       steps_per_day: int = 96, peak_hour: float = 21.0) -> dict:
    """Monthly saving of following a sinusoidal day (:func:`diurnal_load`) instead of keeping the peak fleet.

    Returns
    -------
    dict
        ``static_gpu_hours``, ``autoscaled_gpu_hours`` (per day), ``mean_gpus``, ``saving_usd_per_month``.
    """
    check_int("steps_per_day", steps_per_day, low=1)
    step = 24.0 / steps_per_day
    hours = np.arange(steps_per_day) * step
    load = diurnal_load(hours, peak=peak_gpus, trough=trough_gpus, peak_hour=peak_hour)
    auto = autoscaled_gpu_hours(load, step_hours=step)
    static = math.ceil(peak_gpus) * 24.0
    days = hours_per_month() / 24.0
    return {"static_gpu_hours": static, "autoscaled_gpu_hours": auto, "mean_gpus": auto / 24.0,
            "saving_usd_per_month": (static - auto) * days * check_positive("usd_per_gpu_hour", usd_per_gpu_hour)}


# --- cost breakdown and unit economics ---------------------------------------------------------------------

def cost_breakdown(lines: dict[str, float]) -> pd.DataFrame:
    """Monthly cost lines with their shares of the total.

    Columns: item, usd_per_month, share (fraction); a last row ``total``.
    """
    if not lines:
        raise ParameterError("lines", lines, "at least one cost line")
    items = {k: check_nonnegative(f"lines[{k!r}]", v) for k, v in lines.items()}
    total = sum(items.values())
    if total <= 0:
        raise ParameterError("lines", lines, "a positive total")
    rows = [{"item": k, "usd_per_month": v, "share": v / total} for k, v in items.items()]
    rows.append({"item": "total", "usd_per_month": total, "share": 1.0})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class UnitEconomics:
    """Users, revenue and margin for a month.

    Attributes
    ----------
    mau : monthly active users.
    conversion_rate : share of MAU paying, [0, 1].
    arpu : USD per paying user per month.
    monthly_cost : USD per month.
    """

    mau: float
    conversion_rate: float
    arpu: float
    monthly_cost: float

    def __post_init__(self):
        check_nonnegative("mau", self.mau)
        check_fraction("conversion_rate", self.conversion_rate)
        check_nonnegative("arpu", self.arpu)
        check_nonnegative("monthly_cost", self.monthly_cost)

    @property
    def paid_users(self) -> float:
        return self.mau * self.conversion_rate

    @property
    def revenue(self) -> float:
        return self.paid_users * self.arpu

    @property
    def gross_profit(self) -> float:
        return self.revenue - self.monthly_cost

    @property
    def gross_margin(self) -> float:
        """Gross profit ÷ revenue (NaN with no revenue)."""
        return self.gross_profit / self.revenue if self.revenue > 0 else math.nan

    @property
    def cost_per_mau(self) -> float:
        return self.monthly_cost / self.mau if self.mau > 0 else math.nan


def region_shares(shares: dict[str, float]) -> dict[str, float]:
    """Validate user shares by region: each in [0, 1], summing to 1."""
    check_shares("shares", list(shares.values()))
    return dict(shares)


# --- the case study's own numbers ----------------------------------------------------------------------------

def implied_gpu_costs() -> pd.DataFrame:
    """USD per GPU-month implied by each section that prices a GPU count.

    Columns: section, statement, usd_per_month, gpus, usd_per_gpu_month, usd_per_gpu_hour.
    """
    hours = hours_per_month()
    peak, trough = stated_value("l11.autoscaling.peak_gpus"), stated_value("l11.autoscaling.offpeak_gpus")
    rows = [
        ("§4 (T4)", "-35% ($875K/month) for 2,500 → 1,630 GPUs", stated_value("t4.cb.monthly_saving"),
         stated_value("t4.baseline.gpus_for_1m") - stated_value("t4.cb.gpus_for_1m")),
        ("§5", "$1.6M/month for 1,630 → 900 GPUs", stated_value("t5.effect.monthly_saving"),
         stated_value("t5.effect.gpus_before") - stated_value("t5.effect.gpus_after")),
        ("§9 (T9)", "GPU (A100 × 900) $4.5M/month", stated_value("t9.gpu.monthly_cost"), stated_value("t9.gpu.gpu_count")),
        ("§11", "$1.2M/month saved, 1,200 → 600 GPUs off-peak (sinusoidal day: mean 300 GPUs saved)",
         stated_value("l11.autoscaling.monthly_saving"), (peak - trough) / 2.0),
        ("§11", "$1.2M/month saved if 600 GPUs were off all month (upper bound on GPUs saved)",
         stated_value("l11.autoscaling.monthly_saving"), peak - trough),
    ]
    out = pd.DataFrame(rows, columns=["section", "statement", "usd_per_month", "gpus"])
    out["usd_per_gpu_month"] = out["usd_per_month"] / out["gpus"]
    out["usd_per_gpu_hour"] = out["usd_per_gpu_month"] / hours
    return out


def tokens_per_turn_statements() -> pd.DataFrame:
    """Tokens per conversation turn as each section states or implies it.

    Columns: section, statement, tokens_per_turn.
    """
    return pd.DataFrame([
        ("§1", "200 turns of history = 10K tokens → 10,000 / 200",
         stated_value("t1.s1_challenge.history_tokens") / stated_value("t1.s1_challenge.history_turns")),
        ("§8", "200 turns × 100 tokens = 20K tokens", stated_value("l8.naive.tokens_per_turn")),
        ("§8", "recent 10 turns = 1K tokens → 1,000 / 10",
         stated_value("l8.short_term.tokens_sent") / stated_value("l8.short_term.turns")),
        ("§2", "… × 200 turns × 500 tokens = 60B tokens", stated_value("t2.arith.tokens_per_turn")),
    ], columns=["section", "statement", "tokens_per_turn"])


def case_study_workload(*, concurrent_sessions: float, tokens_per_turn: float, reply_share: float | None = None,
                        persona_tokens: float = 0.0, resend_history: bool = False,
                        history_cap_tokens: float = math.inf, cached_input_share: float = 0.0) -> ChatWorkload:
    """The case study's sessions (30 min, 200 turns, §1/§2) with the given tokens per turn."""
    return ChatWorkload(
        concurrent_sessions=concurrent_sessions, session_minutes=stated_value("t2.arith.session_length"),
        turns_per_session=int(stated_value("t2.arith.turns_per_session")), tokens_per_turn=tokens_per_turn,
        reply_share=default("econ_reply_share") if reply_share is None else reply_share,
        persona_tokens=persona_tokens, resend_history=resend_history, history_cap_tokens=history_cap_tokens,
        cached_input_share=cached_input_share)


def api_cost_scenarios(price: ApiPrice, *, concurrent_sessions: float, persona_tokens: float,
                       history_cap_tokens: float, reply_share: float | None = None) -> pd.DataFrame:
    """Monthly API cost of the case study's sessions under readings of "tokens per turn" and of what
    each turn sends.

    Columns: scenario, tokens_per_turn, input_tokens, output_tokens, usd_per_month.
    """
    rows = []
    for tpt in tokens_per_turn_statements()["tokens_per_turn"].drop_duplicates():
        for name, kw in [
            ("new tokens only (§2's reading)", dict(resend_history=False)),
            ("history re-sent each turn", dict(resend_history=True, history_cap_tokens=history_cap_tokens)),
            ("history + persona re-sent", dict(resend_history=True, history_cap_tokens=history_cap_tokens,
                                               persona_tokens=persona_tokens)),
        ]:
            w = case_study_workload(concurrent_sessions=concurrent_sessions, tokens_per_turn=tpt,
                                    reply_share=reply_share, **kw)
            v = monthly_tokens(w)
            rows.append({"scenario": name, "tokens_per_turn": tpt, "input_tokens": v.input_tokens,
                         "output_tokens": v.output_tokens, "usd_per_month": api_monthly_cost(v, price)})
    return pd.DataFrame(rows)


# --- audits -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EconomicsInputs:
    """What the economics audit needs besides the stated figures.

    Attributes
    ----------
    gpu : GpuPrice
        Market price of the fleet's GPU (default chapter choice: AWS on-demand A100 80GB).
    api : ApiPrice
        The API the case study started on (GPT-3.5 Turbo, $0.5/1M input).
    self_hosted_tokens_per_s_per_gpu : float
        Saturation throughput per GPU (input + output tokens): :func:`modelled_tokens_per_s_per_gpu` in the
        chapter, or a cited measurement.
    utilization : float
        Busy share of paid GPU time.
    persona_tokens : float
        System prompt per character before compression (§1/§7: 10K).
    history_cap_tokens : float
        History kept per session (§1: 10K).
    multiregion_extra_usd : float
        Monthly cost of the multi-region design from :func:`model.regions.multiregion_cost_table`.
    """

    gpu: GpuPrice
    api: ApiPrice
    self_hosted_tokens_per_s_per_gpu: float
    utilization: float
    persona_tokens: float
    history_cap_tokens: float
    multiregion_extra_usd: float


def _nr(claim_id: str, unit: str, why: str):
    from model.audit.verdicts import Computed

    return Computed(claim_id, math.nan, unit, why, verdict="not reproducible")


def _pct_change(new: float, old: float) -> float:
    return 100.0 * (new / old - 1.0)


def audit_t2(x: EconomicsInputs) -> list:
    """§2: API vs. self-hosted, the 60B tokens/month arithmetic, $30K → $3M, the $25.2K saving."""
    from model.audit.verdicts import Computed

    sessions, minutes = stated_value("t2.arith.concurrent_sessions"), stated_value("t2.arith.session_length")
    turns, tpt = stated_value("t2.arith.turns_per_session"), stated_value("t2.arith.tokens_per_turn")
    stated_tokens = stated_value("t2.arith.tokens_per_month")
    literal = stated_product(sessions, minutes, turns, tpt)
    w = case_study_workload(concurrent_sessions=sessions, tokens_per_turn=tpt)
    volume = monthly_tokens(w)
    tokens_how = (f"10K concurrent × ({hours_per_month():g} h × 60 / 30 min) = {w.sessions_per_month() / 1e6:.1f}M "
                  f"sessions/month × 200 turns × 500 tokens = {volume.total_tokens / 1e12:.2f}T (new tokens only, no "
                  f"re-sent context); the stated factors multiply to {literal / 1e9:.0f}B, not 60B")
    openai = stated_value("t2.openai.price")
    self_price = stated_value("t2.self_hosted.price")
    cost_10k = stated_tokens / MILLION * openai
    sessions_1m = stated_value("t2.arith.sessions_1m")
    per_token = self_hosted_usd_per_million_tokens(x.gpu.usd_per_gpu_hour, x.self_hosted_tokens_per_s_per_gpu,
                                                   x.utilization)
    need = throughput_for_price(self_price, x.gpu.usd_per_gpu_hour, x.utilization)
    diff = openai - self_price
    saving = stated_tokens / MILLION * diff
    return [
        Computed("t2.arith.openai_price", x.api.usd_per_1m_input, "USD/1M tokens",
                 f"{x.api.model} input price ({x.api.date}); output tokens cost ${x.api.usd_per_1m_output:g}/1M"),
        Computed("t2.openai.price", x.api.usd_per_1m_input, "USD/1M tokens",
                 f"{x.api.model} input price ({x.api.date}); output ${x.api.usd_per_1m_output:g}/1M"),
        Computed("t2.arith.concurrent_sessions", stated_value("t1.sessions.initial"), "count",
                 "the initial 10K concurrent sessions of T1/§1"),
        Computed("t2.arith.session_length", stated_value("t1.s1_service.avg_session_length"), "min",
                 "the 30-minute average session of §1"),
        Computed("t2.arith.turns_per_session", stated_value("t1.s1_service.turns_per_session"), "turns",
                 "the 200 turns per session of §1"),
        Computed("t2.arith.tokens_per_turn",
                 stated_value("t1.s1_challenge.history_tokens") / stated_value("t1.s1_challenge.history_turns"), "tokens",
                 "§1 keeps 200 turns in 10K tokens = 50 tokens/turn; §8 says 100 tokens/turn; §2 uses 500"),
        Computed("t2.arith.tokens_per_month", volume.total_tokens, "tokens/month", tokens_how),
        Computed("t2.selection.tokens_per_month", volume.total_tokens, "tokens/month",
                 "same volume as §2's initial setup: " + tokens_how),
        Computed("t2.arith.monthly_cost_10k", cost_10k, "USD/month",
                 f"stated 60B × ${openai:g}/1M = ${cost_10k / 1e3:,.0f}K (from the model's {volume.total_tokens / 1e12:.2f}T "
                 f"tokens: ${volume.total_tokens / MILLION * openai / 1e3:,.0f}K)"),
        Computed("t2.arith.sessions_1m", stated_value("t1.sessions.optimized"), "count", "the 1M target of T1"),
        Computed("t2.arith.monthly_cost_1m", cost_10k * sessions_1m / sessions, "USD/month",
                 f"$30K × (1M / 10K) = ${cost_10k * sessions_1m / sessions / 1e6:.1f}M; §1 and the lessons say $300M "
                 "for the same API route (100× more)"),
        Computed("t2.self_hosted.price", per_token, "USD/1M tokens",
                 f"${x.gpu.usd_per_gpu_hour:.2f}/GPU-h ({x.gpu.label}) / ({x.self_hosted_tokens_per_s_per_gpu:g} tok/s "
                 f"× 3600 × {x.utilization:.0%}) × 1e6; $0.08 needs {need:,.0f} tok/s per GPU"),
        Computed("t2.self_hosted.price_change", _pct_change(self_price, openai), "%",
                 f"0.08 / 0.5 − 1 = {_pct_change(self_price, openai):.0f}% (arithmetic of the stated prices)"),
        _nr("t2.openai.latency", "s", "a measurement of the API; no model of OpenAI's serving to recompute it"),
        _nr("t2.self_hosted.latency", "s",
            "a measurement; equals T3's vLLM P95 (2.2 s), whose reproduction is the batching chapter's"),
        Computed("t2.self_hosted.latency_change", _pct_change(stated_value("t2.self_hosted.latency"),
                                                              stated_value("t2.openai.latency")), "%",
                 "2.2 / 1.8 − 1 = +22.2% (arithmetic of the stated latencies)"),
        _nr("t2.openai.model", "text", "qualitative (a model name)"),
        _nr("t2.self_hosted.model", "text", "qualitative (a model name)"),
        _nr("t2.openai.hosting", "text", "qualitative (a hosting choice)"),
        _nr("t2.self_hosted.hosting", "text", "qualitative (a hosting choice)"),
        _nr("t2.openai.customisability", "text", "qualitative"),
        _nr("t2.self_hosted.customisability", "text", "qualitative"),
        Computed("t2.selection.price_difference", diff, "USD/1M tokens", "0.5 − 0.08 = 0.42"),
        Computed("t2.selection.monthly_saving", saving, "USD/month",
                 f"60B × $0.42/1M = ${saving:,.0f} (arithmetic of the stated figures; at the model's volume: "
                 f"${volume.total_tokens / MILLION * diff / 1e3:,.0f}K)"),
        Computed("t2.selection.annual_saving", 12 * saving, "USD/year", f"12 × ${saving:,.0f} = ${12 * saving:,.0f}"),
    ]


def naive_api_cost_1m(x: EconomicsInputs) -> tuple[float, float, float]:
    """API cost per month at 1M sessions: (§2's own scaling, model with history re-sent, model with
    history and the 10K persona re-sent), USD."""
    cost_10k = stated_value("t2.arith.tokens_per_month") / MILLION * stated_value("t2.openai.price")
    scale = stated_value("t2.arith.sessions_1m") / stated_value("t2.arith.concurrent_sessions")
    tpt = stated_value("t1.s1_challenge.history_tokens") / stated_value("t1.s1_challenge.history_turns")
    n = stated_value("t1.s1_challenge.sessions_target")
    hist = monthly_tokens(case_study_workload(concurrent_sessions=n, tokens_per_turn=tpt, resend_history=True,
                                              history_cap_tokens=x.history_cap_tokens))
    both = monthly_tokens(case_study_workload(concurrent_sessions=n, tokens_per_turn=tpt, resend_history=True,
                                              history_cap_tokens=x.history_cap_tokens,
                                              persona_tokens=x.persona_tokens))
    return cost_10k * scale, api_monthly_cost(hist, x.api), api_monthly_cost(both, x.api)


def total_cost_per_session() -> tuple[float, float]:
    """(initial, optimized) total monthly cost per concurrent session from T1's inference + infra lines."""
    initial = (stated_value("t1.inference_cost.initial") + stated_value("t1.infra_cost.initial")) / stated_value("t1.sessions.initial")
    final = (stated_value("t1.inference_cost.optimized") + stated_value("t1.infra_cost.optimized")) / stated_value(
        "t1.sessions.optimized")
    return initial, final


def audit_t9(x: EconomicsInputs) -> list:
    """§9: the cost breakdown at 1M sessions and the unit economics."""
    from model.audit.verdicts import Computed

    lines = {k: stated_value(f"t9.{k}.monthly_cost") for k in
             ("gpu", "llm_inference", "storage", "network", "multiregion", "other", "engineering")}
    table = cost_breakdown(lines)
    total = float(table["usd_per_month"].iloc[-1])
    gpus = stated_value("t9.gpu.gpu_count")
    gpu_cost = fleet_monthly_cost(gpus, x.gpu.usd_per_gpu_hour)
    implied = lines["gpu"] / gpus / hours_per_month()
    tokens_1m = stated_value("t2.arith.tokens_per_month") * stated_value("t2.arith.sessions_1m") / stated_value(
        "t2.arith.concurrent_sessions")
    llm = tokens_1m / MILLION * stated_value("t2.self_hosted.price")
    stated_shares = sum(stated_value(f"t9.{k}.share") for k in lines)
    ue = UnitEconomics(stated_value("t9.unit.mau"), stated_value("t9.unit.conversion_rate") / 100, stated_value("t9.unit.arpu"),
                       total)
    out = [
        Computed("t9.gpu.gpu_count", stated_value("t5.effect.gpus_after"), "count",
                 "the 900 GPUs of §5 after INT8 (also the mean of §11's 1,200/600 day)"),
        Computed("t9.gpu.monthly_cost", gpu_cost, "USD/month",
                 f"900 × ${x.gpu.usd_per_gpu_hour:.2f}/GPU-h ({x.gpu.label}) × {hours_per_month():g} h; "
                 f"$4.5M implies ${implied:.2f}/GPU-h"),
        Computed("t9.llm_inference.monthly_cost", llm, "USD/month",
                 f"§2's own route: 100 × 60B = 6T tokens × $0.08/1M = ${llm / 1e6:.2f}M; the GPUs serving Llama 2 "
                 "are already the $4.5M line"),
        _nr("t9.storage.monthly_cost", "USD/month", "no stored volume, retention or $/GB given"),
        _nr("t9.network.monthly_cost", "USD/month", "no traffic volume or $/GB given"),
        Computed("t9.multiregion.monthly_cost", x.multiregion_extra_usd, "USD/month",
                 "the multi-region design of §6/§10 recomputed in the fleet chapter (GPUs to survive one region down)"),
        _nr("t9.other.monthly_cost", "USD/month", "monitoring and logs: no volumes or prices given"),
        _nr("t9.engineering.monthly_cost", "USD/month", "no headcount or salaries given"),
        Computed("t9.total.monthly_cost", total, "USD/month",
                 "sum of the seven stated lines: 4.5 + 2.4 + 0.8 + 0.6 + 0.8 + 0.9 + 0.5 = $10.5M"),
        Computed("t9.total.share", 100.0, "%",
                 f"exact shares sum to 100%; the stated (rounded) line shares sum to {stated_shares:g}%"),
    ]
    for k, v in lines.items():
        out.append(Computed(f"t9.{k}.share", 100 * v / total, "%",
                            f"${v / 1e6:g}M / ${total / 1e6:g}M = {v / total:.1%}"))
    rev = ue.revenue
    out += [
        _nr("t9.unit.mau", "count", "input (the service's user count)"),
        Computed("t9.unit.paid_users", ue.paid_users, "count", "20M MAU × 10% = 2M"),
        Computed("t9.unit.conversion_rate", 100 * stated_value("t9.unit.paid_users") / stated_value("t9.unit.mau"), "%",
                 "2M paid / 20M MAU"),
        _nr("t9.unit.arpu", "USD/user/month", "input (subscription price)"),
        Computed("t9.unit.monthly_revenue", rev, "USD/month", f"2M × $9.99 = ${rev / 1e6:.2f}M"),
        Computed("t9.unit.gross_profit_revenue", rev, "USD/month", f"revenue 2M × $9.99 = ${rev / 1e6:.2f}M"),
        Computed("t9.unit.gross_profit_cost", total, "USD/month", "T9 total $10.5M"),
        Computed("t9.unit.gross_profit", ue.gross_profit, "USD/month",
                 f"${rev / 1e6:.2f}M − $10.5M = ${ue.gross_profit / 1e6:.2f}M"),
        Computed("t9.unit.gross_margin", 100 * ue.gross_margin, "%",
                 f"${ue.gross_profit / 1e6:.2f}M / ${rev / 1e6:.2f}M = {ue.gross_margin:.1%}"),
    ]
    return out


def audit_summary(x: EconomicsInputs, *, achieved_availability_percent: float) -> list:
    """T1 (the summary), T12 (final results) and the SWOT / lessons rows that are money, scale,
    availability or latency figures.

    Parameters
    ----------
    achieved_availability_percent : the availability the case study's own outage record gives
        (:func:`model.availability.achieved_availability_percent_from_l10`).
    """
    from model.audit.verdicts import Computed

    s0, s1 = stated_value("t1.sessions.initial"), stated_value("t1.sessions.optimized")
    api_1m, api_hist, api_both = naive_api_cost_1m(x)
    per0, per1 = total_cost_per_session()
    inf0, inf1 = stated_value("t1.inference_cost.initial"), stated_value("t1.inference_cost.optimized")
    t9 = {k: stated_value(f"t9.{k}.monthly_cost") for k in
          ("gpu", "llm_inference", "storage", "network", "multiregion", "other", "engineering")}
    t9_total = sum(t9.values())
    inference_t9 = t9["gpu"] + t9["llm_inference"]
    infra_t9 = t9["storage"] + t9["network"] + t9["multiregion"] + t9["other"]
    a = achieved_availability_percent
    from model.availability import percent_rounding_tolerance as tol

    lat0, lat1 = stated_value("t1.p95_latency.initial"), stated_value("t1.p95_latency.optimized")
    naive_how = (f"§2's own arithmetic scales $30K to ${api_1m / 1e6:.0f}M; with the history re-sent every turn "
                 f"(50 tokens/turn, 10K kept) ${api_hist / 1e6:,.0f}M, plus the 10K persona ${api_both / 1e9:.1f}B")
    eff = per0 / per1
    avail_how = (f"§10's record: 12 × 1 h maintenance + 3 × 2 h outages = 18 h/year → {a:.2f}% (99.95% allows "
                 "4.38 h)")
    sessions_how = "the 10K → 1M concurrent sessions of T1/§1 (scenario inputs, the same in every section)"
    out = [
        Computed("t1.title.concurrent_sessions", s1, "count", sessions_how),
        Computed("t1.sessions.initial", s0, "count", sessions_how),
        Computed("t1.sessions.optimized", s1, "count", sessions_how),
        Computed("t1.sessions.scale_factor", s1 / s0, "x", "1M / 10K"),
        Computed("t1.inference_cost.initial", stated_value("t2.arith.monthly_cost_10k"), "USD/month",
                 "§2 states the initial (OpenAI) inference cost as $30K/month, not $120K"),
        Computed("t1.inference_cost.optimized", inference_t9, "USD/month",
                 f"T9's GPU ($4.5M) + LLM inference ($2.4M) = ${inference_t9 / 1e6:.1f}M; only GPU + LLM + network + "
                 "engineering make $8.0M (T1's 8.0 + 2.5 = T9's 10.5)"),
        Computed("t1.inference_cost.scale_factor", inf1 / inf0, "x", f"$8M / $120K = {inf1 / inf0:.1f}"),
        Computed("t1.inference_cost.efficiency_factor", (s1 / s0) / (inf1 / inf0), "x",
                 f"100× sessions for {inf1 / inf0:.1f}× cost = {(s1 / s0) / (inf1 / inf0):.2f}× per session "
                 f"($12 → $8 per session-month)"),
        _nr("t1.p95_latency.initial", "s", "no latency model of the initial (OpenAI) route; §2 states 1.8 s for it "
            "and T3 3.5 s P95 for HF Transformers, neither 2.8 s"),
        _nr("t1.p95_latency.optimized", "s", "a measurement; 3.2 s exceeds §1's 2-s requirement and 3-s goal"),
        Computed("t1.p95_latency.change", _pct_change(lat1, lat0), "%", "3.2 / 2.8 − 1 = +14.3%"),
        _nr("t1.infra_cost.initial", "USD/month", "no breakdown of the 10K-session setup"),
        Computed("t1.infra_cost.optimized", infra_t9, "USD/month",
                 f"T9's storage + network + multi-region + other = ${infra_t9 / 1e6:.1f}M (engineering $0.5M apart)"),
        Computed("t1.infra_cost.scale_factor", stated_value("t1.infra_cost.optimized") / stated_value("t1.infra_cost.initial"),
                 "x", "$2.5M / $50K = 50"),
        Computed("t1.infra_cost.efficiency_factor",
                 (s1 / s0) / (stated_value("t1.infra_cost.optimized") / stated_value("t1.infra_cost.initial")), "x",
                 "100× sessions / 50× cost = 2"),
        _nr("t1.availability.initial", "%", "no outage record of the initial setup (98.5% = 131 h/year down)"),
        Computed("t1.availability.optimized", a, "%", avail_how, tolerance=tol(99.95)),
        Computed("t1.availability.change", stated_value("t1.availability.optimized") - stated_value("t1.availability.initial"),
                 "%", "99.95 − 98.5 = 1.45 percentage points (arithmetic of the stated figures)"),
        Computed("t1.s1_service.response_time_limit", lat1, "s",
                 "the requirement (2 s) vs. the achieved P95 of T1 (3.2 s): missed by 60%; §1's goal says 3 s",
                 tolerance=1e-3),
        Computed("t1.s1_challenge.sessions_initial", s0, "count", sessions_how),
        Computed("t1.s1_challenge.sessions_target", s1, "count", sessions_how),
        Computed("t1.s1_challenge.scale_factor", s1 / s0, "x", "1M / 10K"),
        Computed("t1.s1_challenge.naive_monthly_cost", api_1m, "USD/month", naive_how),
        Computed("t1.s1_goal.concurrent_sessions", s1, "count", sessions_how),
        Computed("t1.s1_goal.response_time_limit", lat1, "s",
                 "an upper bound: the achieved P95 (T1) is 3.2 s, above the 3-s goal", tolerance=1e-3),
        Computed("t1.s1_goal.monthly_cost_cap", t9_total, "USD/month",
                 "an upper bound: T9's total $10.5M exceeds the $10M cap", tolerance=1e-3),
        Computed("t1.s1_goal.price_per_user", stated_value("t1.s1_goal.monthly_cost_cap") / stated_value("t9.unit.mau"),
                 "USD/user/month",
                 f"$10M cap / 20M MAU (T9) = $0.50 per user; achieved $10.5M / 20M = "
                 f"${t9_total / stated_value('t9.unit.mau'):.3f}; revenue per MAU $1.00"),
        # T12
        Computed("t12.sessions.initial", s0, "count", sessions_how),
        Computed("t12.sessions.optimized", s1, "count", sessions_how),
        Computed("t12.sessions.improvement", s1 / s0, "x", "1M / 10K"),
        _nr("t12.cost_efficiency.initial", "text", "qualitative baseline ('標準')"),
        Computed("t12.cost_efficiency.optimized", eff, "x",
                 f"T1 total cost per session: (120K + 50K) / 10K = ${per0:.1f} → (8M + 2.5M) / 1M = ${per1:.1f}: "
                 f"{eff:.2f}× (inference only 1.5×, infrastructure 2×)"),
        _nr("t12.availability.initial", "%", "no outage record of the initial setup"),
        Computed("t12.availability.optimized", a, "%", avail_how, tolerance=tol(99.95)),
        Computed("t12.availability.improvement", stated_value("t12.availability.optimized") - stated_value(
            "t12.availability.initial"), "%", "99.95 − 98.5 = 1.45 percentage points"),
        _nr("t12.p95_latency.initial", "s", "same figure as T1 (no latency model of the initial route)"),
        _nr("t12.p95_latency.optimized", "s", "same figure as T1 (a measurement)"),
        Computed("t12.p95_latency.improvement", _pct_change(lat1, lat0), "%",
                 "3.2 / 2.8 − 1 = +14.3% (a slowdown listed as an improvement)"),
        _nr("t12.gross_margin.initial", "%", "no revenue of the initial setup is given"),
        Computed("t12.gross_margin.optimized", 100 * (stated_value("t9.unit.monthly_revenue") - t9_total) / stated_value(
            "t9.unit.monthly_revenue"), "%", "T9: ($20M − $10.5M) / $20M = 47.5%"),
        Computed("t12.gross_margin.improvement", _pct_change(stated_value("t12.gross_margin.optimized"),
                                                             stated_value("t12.gross_margin.initial")), "%",
                 "48 / 30 − 1 = +60% (relative change)"),
        # SWOT / lessons
        Computed("s.strength_scaling.factor", s1 / s0, "x", "1M / 10K"),
        Computed("s.strength_scaling.sessions_initial", s0, "count", sessions_how),
        Computed("s.strength_scaling.sessions_final", s1, "count", sessions_how),
        Computed("s.strength_cost.efficiency_gain", eff, "x", f"as T12: ${per0:.1f} → ${per1:.1f} per session"),
        Computed("s.strength_cost.cost_vs_naive", 1 / eff, "x",
                 f"1 / {eff:.2f} = {1 / eff:.2f} of the naive (100× initial) cost; against §1's $300M naive "
                 f"figure it would be 10.5 / 300 = {t9_total / stated_value('t1.s1_challenge.naive_monthly_cost'):.3f}"),
        Computed("s.strength_availability.availability", a, "%", avail_how, tolerance=tol(99.95)),
        Computed("s.weakness_latency.change", _pct_change(lat1, lat0), "%", "3.2 / 2.8 − 1 = +14.3%"),
        _nr("s.weakness_latency.initial", "s", "same figure as T1 (no latency model of the initial route)"),
        _nr("s.weakness_latency.final", "s", "same figure as T1 (a measurement)"),
        Computed("s.weakness_ops.gpu_count", stated_value("t5.effect.gpus_after"), "count",
                 "the 900 GPUs of §5/T9; §11 runs 1,200 at peak"),
        Computed("s.weakness_ops.regions", 3, "count", "US-East, EU-West, AP-Northeast (T6)"),
        Computed("s.weakness_capex.initial_investment", stated_value("t9.gpu.gpu_count") * default(
            "econ_a100_purchase_usd_per_gpu"), "USD",
                 f"900 × ${default('econ_a100_purchase_usd_per_gpu'):,.0f} (DGX A100 launch price / 8) = "
                 f"${stated_value('t9.gpu.gpu_count') * default('econ_a100_purchase_usd_per_gpu') / 1e6:.1f}M; but T9 "
                 "also pays $4.5M/month for the same GPUs, as if rented"),
        _nr("s.opportunity_specdec.latency_change", "%", "a forecast (same as the roadmap's −30%)"),
        Computed("s.lesson_openai.sessions", s1, "count", sessions_how),
        Computed("s.lesson_openai.monthly_cost", api_1m, "USD/month", naive_how),
    ]
    return out


def audit_r12(*, llama2: "object | None" = None, llama3: "object | None" = None) -> list:
    """§12 roadmap: forecasts, not reproducible; where physics says something, the reason says it.

    Parameters
    ----------
    llama2, llama3 : optional :class:`model.architectures.Architecture` of Llama 2 70B and Llama 3 70B, to
        state the bandwidth-bound decode speed ratio in the reason of the "+20% speed" row.
    """
    from model.audit.verdicts import Computed

    speed = "a forecast with no workload given"
    if llama2 is not None and llama3 is not None:
        ratio = llama2.parameters() / llama3.parameters()
        speed = (f"a forecast; at equal batch a bandwidth-bound decode reads {llama3.parameters() / 1e9:.1f}B vs "
                 f"{llama2.parameters() / 1e9:.1f}B weights with the same KV per token: {100 * (ratio - 1):+.1f}% "
                 "tokens/s, so +20% needs another cause (e.g. its tokenizer's fewer tokens per text)")
    latency = default("econ_gpt4o_audio_mean_latency_ms")
    return [
        _nr("r12.short_term.horizon", "count", "a planning horizon, not a derived figure"),
        _nr("r12.mid_term.horizon", "count", "a planning horizon, not a derived figure"),
        _nr("r12.long_term.horizon", "count", "a planning horizon, not a derived figure"),
        _nr("r12.llama3.accuracy_change", "%", "a forecast; no benchmark or metric named"),
        _nr("r12.llama3.speed_change", "%", speed),
        _nr("r12.speculative_decoding.latency_change", "%",
            "a forecast; the gain depends on the draft model's acceptance rate, which is not given"),
        _nr("r12.flashattention3.gpu_memory_change", "%",
            "a forecast; FlashAttention-3 is written for Hopper (H100) GPUs, not the A100 fleet, and an attention "
            "kernel changes neither weight nor KV-cache bytes"),
        _nr("r12.edge_inference.cost_change", "%", "a forecast; no model, device or traffic share given"),
        _nr("r12.own_llm.cost_change", "%", "a forecast; no model size or training cost given"),
        Computed("r12.realtime_voice.latency_max", latency, "ms",
                 f"a bound: OpenAI reports GPT-4o audio responses average {latency:g} ms (min 232 ms), below 500 ms",
                 kind="lower_bound"),
    ]


def audit_l11(*, usd_per_gpu_month: float, spare_share: float, market: GpuPrice) -> list:
    """§11: monitoring thresholds, autoscaling 1,200 / 600 GPUs and its $1.2M/month saving.

    Parameters
    ----------
    usd_per_gpu_month : price of a GPU-month used to value the saving (the chapter uses T9's own
        $4.5M / 900, so the check is internal to the source).
    spare_share : hot spares per region (§10: 10%).
    market : a dated market price, reported beside it.
    """
    from model.audit.verdicts import Computed

    peak, trough = stated_value("l11.autoscaling.peak_gpus"), stated_value("l11.autoscaling.offpeak_gpus")
    hours = hours_per_month()
    model = autoscaling_saving(peak_gpus=peak, trough_gpus=trough, usd_per_gpu_hour=usd_per_gpu_month / hours)
    at_market = autoscaling_saving(peak_gpus=peak, trough_gpus=trough, usd_per_gpu_hour=market.usd_per_gpu_hour)
    fleet = stated_value("t5.effect.gpus_after")
    peak_fleet = gpus_for_sessions(stated_value("t1.sessions.optimized"), stated_value("t1.sessions.optimized") / fleet,
                                   spare_share=spare_share)
    stated_saving = stated_value("l11.autoscaling.monthly_saving")
    off_hours = stated_saving / ((peak - trough) * usd_per_gpu_month) * 24.0
    daily = sum(stated_value(f"t9.{k}.monthly_cost") for k in
                ("gpu", "llm_inference", "storage", "network", "multiregion", "other", "engineering")) / (hours / 24.0)
    return [
        _nr("l11.monitoring.interval", "min", "an operating choice"),
        _nr("l11.monitoring.scale_out_threshold", "%",
            "an operating choice; note the fleet's stated mean utilisation (92%) leaves 3 points below it"),
        _nr("l11.monitoring.daily_cost_alert", "USD",
            f"a threshold; for scale, T9's $10.5M/month is ${daily / 1e3:,.0f}K per day, so the alert sits "
            f"{400e3 / daily - 1:.0%} above an average day"),
        Computed("l11.autoscaling.peak_gpus", peak_fleet, "count",
                 f"§5 serves the 1M-session design load on 900 GPUs; + {spare_share:.0%} hot spares = {peak_fleet}; "
                 "1,200 at peak would mean the design load is not the peak"),
        Computed("l11.autoscaling.offpeak_gpus", peak * (1 + stated_value("l11.autoscaling.offpeak_change") / 100),
                 "count", "1,200 × (1 − 50%) (arithmetic of the stated figures)"),
        Computed("l11.autoscaling.offpeak_change", _pct_change(trough, peak), "%", "600 / 1,200 − 1"),
        Computed("l11.autoscaling.monthly_saving", model["saving_usd_per_month"], "USD/month",
                 f"sinusoidal day 1,200 ↔ 600 GPUs: mean {model['mean_gpus']:.0f} GPUs, {peak - model['mean_gpus']:.0f} "
                 f"GPU-months saved × ${usd_per_gpu_month:,.0f} (T9's price) = ${model['saving_usd_per_month'] / 1e6:.2f}M; "
                 f"at {market.label} ${at_market['saving_usd_per_month'] / 1e6:.2f}M; $1.2M at T9's price means 600 GPUs "
                 f"off {off_hours:.1f} h a day"),
    ]


# --- fleet size at a latency target -------------------------------------------------------------------------

#: Loads (shares of the analytic saturation throughput) at which a replica is simulated to find the highest
#: rate that keeps a latency percentile under its target (a grid, not a constant of the model: the answer is
#: reported as the highest grid point that meets the target, so a finer grid can only raise it slightly).
LOAD_FRACTIONS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def turn_rate_per_s(concurrent_sessions: float, *, turns_per_session: float, session_minutes: float) -> float:
    """Requests (turns) per second generated by ``concurrent_sessions`` sessions in progress, each making
    ``turns_per_session`` turns over ``session_minutes`` (Little's law: sessions / duration × turns)."""
    check_nonnegative("concurrent_sessions", concurrent_sessions)
    check_positive("turns_per_session", turns_per_session)
    check_positive("session_minutes", session_minutes)
    return concurrent_sessions * turns_per_session / (session_minutes * 60.0)


def replica_load_sweep(model: str, gpu: str, n_gpus: int, *, prompt_tokens: int, reply_tokens: int,
                       max_batch: int = 256, n_requests: int = 1500, seed: int = 0,
                       load_fractions: tuple[float, ...] = LOAD_FRACTIONS) -> tuple[float, pd.DataFrame]:
    """Simulate one continuously batched replica (:func:`model.serving.simulate`, Poisson arrivals, fixed
    lengths) at ``load_fractions`` of its analytic saturation throughput.

    Returns
    -------
    (saturation requests/s, one row of :meth:`model.serving.SimResult.summary` metrics per load)
    """
    from model.batching import continuous_saturation, deployment, poisson_workload
    from model.serving import Scheduler, sweep_load

    dep = deployment(model, gpu, n_gpus)
    sat = continuous_saturation(dep, [prompt_tokens], [reply_tokens], max_batch=max_batch).requests_per_s
    sweep = sweep_load({"continuous": (dep, Scheduler("continuous", max_batch))}, [f * sat for f in load_fractions],
                       lambda r: poisson_workload(n_requests, r, prompt_tokens=prompt_tokens,
                                                  output_tokens=reply_tokens, seed=seed), progress=False)
    return sat, sweep


def rate_within_latency(sweep: pd.DataFrame, latency_metric: str, latency_target_s: float) -> float:
    """Highest simulated rate of ``sweep`` whose ``latency_metric`` (e.g. ``"e2e_latency_s_p95"``,
    ``"ttft_s_p95"``) stays ≤ ``latency_target_s``, requests/s.

    Raises
    ------
    ParameterError
        naming ``latency_metric`` if unknown, or ``latency_target_s`` when even the lightest load misses it.
    """
    from model.serving import highest_rate_within

    check_positive("latency_target_s", latency_target_s)
    if latency_metric not in sweep.columns:
        raise ParameterError("latency_metric", latency_metric,
                             "one of " + ", ".join(c for c in sweep.columns if c.endswith(("_p50", "_p95", "_p99"))))
    rate = float(highest_rate_within(sweep, latency_metric, latency_target_s).iloc[0])
    if not math.isfinite(rate):
        raise ParameterError("latency_target_s", latency_target_s,
                             f">= {float(sweep[latency_metric].iloc[0]):.2f} s ({latency_metric} at the lightest "
                             f"simulated load, {float(sweep['rate_per_s'].iloc[0]):.3g} requests/s)")
    return rate


def replica_rate_at_latency(model: str, gpu: str, n_gpus: int, *, prompt_tokens: int, reply_tokens: int,
                            latency_metric: str, latency_target_s: float, max_batch: int = 256,
                            n_requests: int = 1500, seed: int = 0,
                            load_fractions: tuple[float, ...] = LOAD_FRACTIONS) -> tuple[float, float, pd.DataFrame]:
    """Highest Poisson arrival rate (requests/s) at which one replica keeps ``latency_metric`` ≤
    ``latency_target_s``: :func:`replica_load_sweep` then :func:`rate_within_latency`.

    Returns
    -------
    (rate, saturation rate, sweep)
    """
    check_positive("latency_target_s", latency_target_s)
    sat, sweep = replica_load_sweep(model, gpu, n_gpus, prompt_tokens=prompt_tokens, reply_tokens=reply_tokens,
                                    max_batch=max_batch, n_requests=n_requests, seed=seed,
                                    load_fractions=load_fractions)
    return rate_within_latency(sweep, latency_metric, latency_target_s), sat, sweep


def fleet_for_sessions(concurrent_sessions: float, *, replica_rate_per_s: float, replica_gpus: int,
                       turns_per_session: float, session_minutes: float, spare_share: float = 0.0) -> tuple[int, int]:
    """(replicas, GPUs) to carry the turns of ``concurrent_sessions`` at ``replica_rate_per_s`` per replica of
    ``replica_gpus`` GPUs, plus ``spare_share`` hot spares."""
    check_positive("replica_rate_per_s", replica_rate_per_s)
    check_int("replica_gpus", replica_gpus, low=1)
    check_nonnegative("spare_share", spare_share)
    demand = turn_rate_per_s(concurrent_sessions, turns_per_session=turns_per_session,
                             session_minutes=session_minutes)
    replicas = math.ceil(demand / replica_rate_per_s)
    return replicas, math.ceil(replicas * replica_gpus * (1.0 + spare_share))
