"""The register of readings (``data/claims/readings.csv``): every quantity the sources leave ambiguous — what
"concurrent sessions" means, how many tokens a turn carries, what a turn's billed tokens count, what the 900
GPUs are, which GPU price, what latency measures, what T4's throughput is per — with its alternatives, the
one the audit uses and why, and the source lines.

Every audit row computes its figure under the audit's reading of each quantity it depends on, names the
quantity, and gives its figure under every other alternative too (:class:`Alt`, :func:`across`), so that the
audit can say where a reading changes a verdict. The values below carry their reading as a tag
(:func:`model.audit.claims.with_reading`), so a row computed under another reading without saying so is
caught (:func:`model.audit.verdicts.audit`); so is a row that reads the stated figures defining an
alternative (column ``defined_by``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from model.audit.claims import CLAIMS_DIR, claim, readings_of, stated_value, with_reading
from model.calendar import hours_per_month
from model.checks import ParameterError, check_choice
from model.economics.prices import gpu_price
from model.economics.token_volume import MINUTES_PER_HOUR

#: The register.
READINGS_FILE = CLAIMS_DIR / "readings.csv"
READING_COLUMNS = ["quantity", "alternative", "audit", "label", "meaning", "defined_by", "source_lines", "why"]
#: Hours in a day (the one-session-a-day reading of "concurrent").
HOURS_PER_DAY = 24.0
#: The GPU the source rents (§2: AWS + NVIDIA A100; T3: A100 80GB) and where the market alternative prices it.
MARKET_GPU = ("a100-80gb", "aws", "on-demand")


@lru_cache(maxsize=1)
def register() -> pd.DataFrame:
    """Every alternative of every ambiguous quantity (columns :data:`READING_COLUMNS`), the audit's first
    within each quantity."""
    table = pd.read_csv(READINGS_FILE, keep_default_na=False, dtype=str)
    if list(table.columns) != READING_COLUMNS:
        raise ValueError(f"{READINGS_FILE}: columns {list(table.columns)}, expected {READING_COLUMNS}")
    if table.duplicated(["quantity", "alternative"]).any():
        raise ValueError(f"{READINGS_FILE}: an alternative listed twice")
    chosen = table[table["audit"] == "yes"].groupby("quantity").size()
    if set(table["audit"]) - {"yes", "no"} or set(chosen.index) != set(table["quantity"]) or (chosen != 1).any():
        raise ValueError(f"{READINGS_FILE}: exactly one alternative per quantity has audit = yes")
    empty = table[(table[["label", "meaning", "source_lines", "why"]] == "").any(axis=1)]
    if len(empty):
        raise ValueError(f"{READINGS_FILE}: label, meaning, source lines and why are required ({list(empty['alternative'])})")
    order = table.assign(_a=table["audit"] != "yes", _q=table["quantity"].map({q: i for i, q in enumerate(
        dict.fromkeys(table["quantity"]))}))
    return order.sort_values(["_q", "_a"], kind="stable").drop(columns=["_q", "_a"]).reset_index(drop=True)


@lru_cache(maxsize=1)
def _index() -> tuple:
    """The register as plain lookups: ``(quantities, {quantity: alternatives, the audit's first},
    {(quantity, alternative): row as a dict})``."""
    table = register()
    rows = {(r["quantity"], r["alternative"]): r for r in table.to_dict("records")}
    alts: dict = {}
    for q, a in rows:
        alts.setdefault(q, []).append(a)
    return tuple(alts), {q: tuple(v) for q, v in alts.items()}, rows


def quantities() -> list[str]:
    """The ambiguous quantities, in the register's order."""
    return list(_index()[0])


def alternatives(quantity: str) -> list[str]:
    """The alternatives of ``quantity``, the audit's first."""
    qs, alts, _ = _index()
    if quantity not in alts:
        check_choice("quantity", quantity, list(qs))
    return list(alts[quantity])


def audit_reading(quantity: str) -> str:
    """The alternative of ``quantity`` the audit uses."""
    return alternatives(quantity)[0]


def other_readings(quantity: str) -> list[str]:
    """The alternatives of ``quantity`` the audit does not use."""
    return alternatives(quantity)[1:]


def _row(quantity: str, alternative: str) -> dict:
    rows = _index()[2]
    if (quantity, alternative) not in rows:
        check_choice("alternative", alternative, alternatives(quantity))
    return rows[(quantity, alternative)]


def label(quantity: str, alternative: str) -> str:
    """A few words naming ``alternative`` of ``quantity``."""
    return str(_row(quantity, alternative)["label"])


def defined_by(quantity: str, alternative: str) -> frozenset:
    """The claims whose stated values together set ``alternative`` (empty if none does)."""
    return frozenset(str(_row(quantity, alternative)["defined_by"]).split())


def setter(quantity: str, alternative: str) -> str | None:
    """The stated figure that sets ``alternative`` (the first claim of ``defined_by``; the others only
    complete its arithmetic), or None."""
    ids = str(_row(quantity, alternative)["defined_by"]).split()
    return ids[0] if ids else None


@lru_cache(maxsize=1)
def definitions() -> dict:
    """``{(quantity, alternative): claim ids}`` for every alternative set by stated figures."""
    return {(q, a): defined_by(q, a) for q in quantities() for a in alternatives(q) if defined_by(q, a)}


@dataclass(frozen=True)
class Alt:
    """A row's figure under one alternative reading: ``value`` (NaN when it cannot be computed under it) and,
    for a range, ``low`` and ``high``, in the row's unit; ``kind`` when the figure is of another kind under
    this reading than the row's (e.g. an estimate where the row's figure is a bound); ``how`` the arithmetic
    in a few words."""

    value: float
    low: float | None = None
    high: float | None = None
    how: str = ""
    kind: str | None = None


def across(quantity: str, figure) -> tuple:
    """``figure(alternative) -> Alt`` under every alternative of ``quantity``: the audit's, and the others as
    the ``under`` mapping of :class:`model.audit.verdicts.Computed` (``{(quantity, alternative): Alt}``)."""
    main = figure(audit_reading(quantity))
    return main, {(quantity, a): figure(a) for a in other_readings(quantity)}


def tags_of(*values) -> frozenset:
    """The ``(quantity, alternative)`` readings the tracked ``values`` were computed under."""
    out: frozenset = frozenset()
    for v in values:
        if v is not None:
            out |= readings_of(v)
    return out


# ---- the value of each alternative ------------------------------------------------------------------------

def _pick(quantity: str, alternative: str | None) -> str:
    alt = audit_reading(quantity) if alternative is None else alternative
    check_choice(quantity, alt, alternatives(quantity))
    return alt


def sessions_per_slot_month(alternative: str | None = None):
    """concurrent_sessions: sessions one "concurrent" slot serves a month (tagged with the reading)."""
    alt = _pick("concurrent_sessions", alternative)
    minutes = stated_value("t1.s1_service.avg_session_length")
    little = hours_per_month() * MINUTES_PER_HOUR / minutes
    if alt == "mean_open":
        v = little
    elif alt == "peak_open":
        peak, trough = stated_value("l11.autoscaling.peak_gpus"), stated_value("l11.autoscaling.offpeak_gpus")
        v = little * ((peak + trough) / 2) / peak
    else:  # one_per_day
        v = hours_per_month() / HOURS_PER_DAY
    return with_reading(v, "concurrent_sessions", alt)


def open_share(alternative: str | None = None):
    """concurrent_sessions: share of the N "concurrent" sessions open at once at the load a fleet is sized
    for (1 when N are open at once; a 30-minute session a day is open 30 ÷ 1,440 of the time)."""
    alt = _pick("concurrent_sessions", alternative)
    if alt == "one_per_day":
        v = stated_value("t1.s1_service.avg_session_length") / (HOURS_PER_DAY * MINUTES_PER_HOUR)
    else:
        v = 1.0
    return with_reading(v, "concurrent_sessions", alt)


def tokens_per_turn(alternative: str | None = None):
    """tokens_per_turn: tokens a conversation turn adds (tagged)."""
    alt = _pick("tokens_per_turn", alternative)
    if alt == "s8_100":
        v = stated_value("l8.naive.tokens_per_turn")
    elif alt == "s1_50":
        v = stated_value("t1.s1_challenge.history_tokens") / stated_value("t1.s1_challenge.history_turns")
    else:  # s2_500
        v = stated_value("t2.arith.tokens_per_turn")
    return with_reading(v, "tokens_per_turn", alt)


def billed_context(alternative: str | None = None) -> dict:
    """tokens_billed: what a turn re-sends besides its new tokens, as keyword arguments of
    :class:`model.economics.token_volume.ChatWorkload` (``resend_history``, ``persona_tokens``)."""
    alt = _pick("tokens_billed", alternative)
    if alt == "new_only":
        return {"resend_history": False, "persona_tokens": 0.0}
    persona = float(stated_value("l7.compression.tokens_before")) if alt == "history_persona" else 0.0
    return {"resend_history": True, "persona_tokens": persona}


def fleet_gpus(alternative: str | None = None) -> tuple:
    """fleet_900: (mean, peak) GPUs of the source's fleet, tagged. ``mean``: 900 is the month's mean and
    §11's day peaks at 2 × 900 − 600 = 1,200 (a day symmetric about its mean, as §11's 1,200/600 is);
    ``peak``: 900 serve the peak, plus §10's spares, and the mean follows §11's mean ÷ peak."""
    alt = _pick("fleet_900", alternative)
    gpus = stated_value("t9.gpu.gpu_count")
    trough = stated_value("l11.autoscaling.offpeak_gpus")
    peak_stated = stated_value("l11.autoscaling.peak_gpus")
    if alt == "mean":
        mean, peak = gpus, 2 * gpus - trough
    else:
        spare = stated_value("l10.design.spare_gpu_share") / 100
        mean, peak = gpus * ((peak_stated + trough) / 2) / peak_stated, gpus * (1 + spare)
    return with_reading(mean, "fleet_900", alt), with_reading(peak, "fleet_900", alt)


def gpu_usd_per_hour(alternative: str | None = None):
    """gpu_price: USD per GPU-hour (tagged)."""
    alt = _pick("gpu_price", alternative)
    if alt == "t9":
        v = stated_value("t9.gpu.monthly_cost") / stated_value("t9.gpu.gpu_count") / hours_per_month()
    else:  # aws_on_demand
        v = gpu_price(*MARKET_GPU).usd_per_gpu_hour
    return with_reading(v, "gpu_price", alt)


def gpu_usd_per_month(alternative: str | None = None):
    """gpu_price: USD per GPU-month (``hours_per_month`` GPU-hours; tagged)."""
    return gpu_usd_per_hour(alternative) * hours_per_month()


def gpu_price_label(alternative: str | None = None) -> str:
    """gpu_price: the price in words, e.g. "T9's $5,000 a GPU-month" or "aws on-demand a100-80gb, <date>"."""
    alt = _pick("gpu_price", alternative)
    return label("gpu_price", alt) if alt == "t9" else gpu_price(*MARKET_GPU).label


#: What the simulated latency of each latency alternative is (columns of a simulation summary).
LATENCY_METRICS = {"e2e": "e2e_latency_s_p95", "ttft": "ttft_s_p95"}


def latency_metric(alternative: str | None = None) -> str:
    """latency: the simulation summary's P95 that the source's latency is read as."""
    return LATENCY_METRICS[_pick("latency", alternative)]


def resolve(quantity: str, alternative: str):
    """The value (or setting) of ``alternative`` of ``quantity``: what the audit uses under it."""
    resolvers = {"concurrent_sessions": sessions_per_slot_month, "tokens_per_turn": tokens_per_turn,
                 "tokens_billed": billed_context, "fleet_900": fleet_gpus, "gpu_price": gpu_usd_per_hour,
                 "latency": latency_metric, "t4_throughput_basis": lambda a: _pick("t4_throughput_basis", a)}
    if quantity not in resolvers:
        raise ParameterError("quantity", quantity, f"one of {sorted(resolvers)}")
    return resolvers[quantity](alternative)


def check_register() -> list[str]:
    """Problems of the register: an unknown claim in ``defined_by``, an alternative with no value."""
    problems = []
    for (q, a), ids in definitions().items():
        for cid in ids:
            try:
                claim(cid)
            except ParameterError:
                problems.append(f"{q}={a}: defined_by names unknown claim {cid}")
    for q in quantities():
        for a in alternatives(q):
            try:
                v = resolve(q, a)
            except ParameterError as e:
                problems.append(f"{q}={a}: {e}")
                continue
            if isinstance(v, float) and not math.isfinite(v):
                problems.append(f"{q}={a}: no finite value")
    return problems
