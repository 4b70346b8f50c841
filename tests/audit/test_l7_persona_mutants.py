"""model.audit.l7_persona row by row, against figures worked by hand from the stated values of data/claims (5M
characters, top 100,000 cached, a 10K persona cut to 1K general + 1K traits, 1M concurrent 30-minute sessions of 200
turns, $0.08 per 1M tokens, §11's 1,200 A100 at the peak).

Fast: the claims are looked up in a dict (the same rows as data/claims), the Zipf popularity functions (mutated and
tested in model/workload/popularity.py's own files) are replaced by recorders returning chosen shares, and the audit
table's section by a recorder; the whole audit is left to tests/audit/test_l7_persona.py."""

import math
from types import SimpleNamespace

import pytest
from numpy.testing import assert_allclose

from model.audit import claims as C
from model.audit import l7_persona as L7
from model.audit import readings as R
from model.audit.claims import claim_ids_of, is_read_back
from model.audit.readings import Alt
from claim_rows import ROWS as _ROWS, claim as _claim

#: 80 GiB × 0.9 usable − 68,976,648,192 parameters × 1 byte (INT8): 77,309,411,328 − 68,976,648,192 bytes
BUDGET = 0.9 * 80 * 2 ** 30 - 68_976_648_192
#: Llama 2 70B, FP16 KV: 80 layers × 8 KV heads × 128 × 2 (K and V) × 2 bytes = 327,680 bytes a token
KV_TOKEN = 80 * 8 * 128 * 2 * 2


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    calls = []

    def top(n, k, s):
        calls.append(("top", n, k, s))
        return 0.625

    def hit(n, k, s, policy):
        calls.append(("hit", n, k, s, policy))
        return {"lru": 0.125, "static": 0.875}[policy]

    def needed(n, k, share):
        calls.append(("needed", n, k, share))
        return 1.0625

    monkeypatch.setattr(C, "claim", _claim)
    monkeypatch.setattr(L7, "zipf_top_share", top)
    monkeypatch.setattr(L7, "cache_hit_ratio", hit)
    monkeypatch.setattr(L7, "zipf_exponent_for_top_share", needed)
    return calls


def _rows():
    return {c.claim_id: c for c in L7.computed()}


def test_source_setting_names():
    assert (L7.SOURCE_MODEL, L7.SOURCE_GPU, L7.SOURCE_WEIGHT_DTYPE, L7.SOURCE_KV_DTYPE) == \
        ("llama-2-70b", "a100-80gb", "int8", "fp16")


def test_source_inputs_are_the_stated_figures():
    x = L7.source_inputs()
    want = {"characters": (5e6, "t1.s1_service.characters"),
            "popular_characters": (1e5, "l7.effect.cached_top_characters"),
            "persona_tokens_before": (1e4, "l7.compression.tokens_before"),
            "persona_tokens_after": (2e3, "l7.compression.tokens_after"),
            "concurrent_sessions": (1e6, "t2.arith.sessions_1m"),
            "session_minutes": (30, "t1.s1_service.avg_session_length"),
            "turns_per_session": (200, "t1.s1_service.turns_per_session"),
            "self_hosted_usd_per_million": (0.08, "t2.self_hosted.price"),
            "api_usd_per_million": (0.5, "t2.openai.price"),
            "short_turns": (10, "l8.short_term.turns"),
            "mid_last_turn": (50, "l8.mid_term.last_turn"),
            "mid_summary_tokens": (500, "l8.mid_term.tokens_sent"),
            "long_rag_tokens": (500, "l8.long_term.tokens_sent")}
    for name, (value, cid) in want.items():
        v = getattr(x, name)
        assert v == value and is_read_back(v) and v.claim_id == cid, name
    # one session a day: 730 h ÷ 24 = 30.4166… sessions per slot a month, tagged with its reading
    assert_allclose(x.sessions_per_slot_month, 730 / 24, rtol=1e-12)
    assert R.tags_of(x.sessions_per_slot_month) == {("concurrent_sessions", "one_per_day")}


def test_requests_and_persona_cost_under_each_reading():
    # mean_open (the audit's): 730 h × 60 ÷ 30 min = 1,460 sessions a slot-month; peak_open: × (1,200 + 600) ÷ 2
    # ÷ 1,200 = 0.75 → 1,095; one_per_day: 730 ÷ 24
    for reading, per_slot in ((None, 1460), ("mean_open", 1460), ("peak_open", 1095), ("one_per_day", 730 / 24)):
        assert_allclose(L7.requests_per_month(reading), 1e6 * per_slot * 200, rtol=1e-12)
        # 10K tokens each at $0.08 / 1M
        assert_allclose(L7.persona_cost(1e4, reading), 1e6 * per_slot * 200 * 1e4 * 0.08 / 1e6, rtol=1e-12)
    assert_allclose(L7.persona_cost(2e3), 1e6 * 1460 * 200 * 2e3 * 0.08 / 1e6, rtol=1e-12)
    assert R.tags_of(L7.requests_per_month()) == {("concurrent_sessions", "mean_open")}
    assert R.tags_of(L7.persona_cost(1.0, "peak_open")) == {("concurrent_sessions", "peak_open")}


def test_fleet_capacity_by_hand():
    n, how = L7.fleet_capacity()
    # 1,200 GPUs × 8,332,763,136 bytes ÷ (1,000 tokens × 327,680 bytes), floored
    assert BUDGET == 8_332_763_136 and KV_TOKEN == 327_680
    assert n == math.floor(1200 * BUDGET / (1000 * KV_TOKEN)) == 30_515
    assert type(n) is int
    assert how == ("1,200 A100 80GB (§11's peak fleet, the largest the source runs) × 8.3 GB KV budget each "
                   "(Llama 2 70B INT8 weights, FP16 KV) ÷ 0.33 GB per character's own 1,000 tokens = 30,515 "
                   "characters")


def test_popularity_range_is_the_parameters():
    assert L7.popularity_range() == (0.6, 1.2)


def _check(c, *, value, unit, role="computed", verdict=None, restates=None, how=None, kind="estimate",
           ids=None):
    assert_allclose(float(c.value), value, rtol=1e-12, err_msg=c.claim_id)
    assert (c.unit, c.role, c.verdict, c.restates, c.kind) == (unit, role, verdict, restates, kind), c.claim_id
    if how is not None:
        assert c.how == how, c.claim_id
    if ids is not None:
        assert claim_ids_of(c.value) == frozenset(ids), c.claim_id


def test_rows_by_hand(fast):
    """Every row of computed() from one call (each call of computed() costs a mutant's run its time)."""
    r = _rows()
    _given_rows(r)
    _token_rows(r)
    _cost_rows(r)
    _cache_rows(r, fast)


def _given_rows(r):
    assert list(r) == ["t1.s1_challenge.characters", "t1.s1_challenge.persona_prompt_tokens", "l7.problem.characters",
                       "l7.problem.persona_prompt_tokens", "l7.naive.tokens_per_request",
                       "l7.compression.tokens_before", "l7.compression.tokens_after",
                       "l7.layering.general_persona_tokens", "l7.layering.individual_traits_tokens",
                       "l7.layering.total_tokens", "l7.effect.tokens_before", "l7.effect.tokens_after",
                       "l7.effect.token_change", "l7.effect.cost_before", "l7.effect.cost_after",
                       "l7.effect.cost_change", "l7.effect.cache_hit_rate", "l7.effect.cached_top_characters"]
    restated = {
        "t1.s1_challenge.characters": (5e6, "count", "t1.s1_service.characters",
                                       "restates §1's service figure of 5M characters (t1.s1_service.characters)"),
        "l7.problem.characters": (5e6, "count", "t1.s1_service.characters",
                                  "restates §1's 5M characters (t1.s1_service.characters)"),
        "l7.problem.persona_prompt_tokens": (1e4, "tokens", "t1.s1_challenge.persona_prompt_tokens",
                                             "restates §1's 10K-token system prompt "
                                             "(t1.s1_challenge.persona_prompt_tokens)"),
        "l7.compression.tokens_before": (1e4, "tokens", "l7.problem.persona_prompt_tokens",
                                         "restates §7's 10K persona, the compression's input "
                                         "(l7.problem.persona_prompt_tokens)"),
        "l7.effect.tokens_before": (1e4, "tokens", "l7.compression.tokens_before",
                                    "restates the compression's 10K input (l7.compression.tokens_before)"),
        "l7.effect.tokens_after": (2e3, "tokens", "l7.layering.total_tokens",
                                   "restates the layering total of 2K (l7.layering.total_tokens)"),
    }
    for cid, (value, unit, of, how) in restated.items():
        _check(r[cid], value=value, unit=unit, role="restatement", verdict="given", restates=of, how=how, ids={cid})
        assert is_read_back(r[cid].value)
    _check(r["t1.s1_challenge.persona_prompt_tokens"], value=1e4, unit="tokens", role="input", verdict="given",
           how="input: the persona (system prompt) of each character, 10K tokens before compression",
           ids={"t1.s1_challenge.persona_prompt_tokens"})
    _check(r["l7.naive.tokens_per_request"], value=1e4, unit="tokens", role="definition", verdict="given",
           how="the naive design sends the whole 10K persona with every request (its definition; history comes on "
               "top)", ids={"l7.naive.tokens_per_request"})
    _check(r["l7.layering.general_persona_tokens"], value=1e3, unit="tokens", role="design input", verdict="given",
           how="a design input of the layering (the shared general persona)",
           ids={"l7.layering.general_persona_tokens"})
    _check(r["l7.layering.individual_traits_tokens"], value=1e3, unit="tokens", role="design input",
           verdict="given", how="a design input of the layering (the character's own traits)",
           ids={"l7.layering.individual_traits_tokens"})


def _token_rows(r):
    layers = {"l7.layering.general_persona_tokens", "l7.layering.individual_traits_tokens"}
    # 1,000 general + 1,000 traits = 2,000 tokens
    _check(r["l7.compression.tokens_after"], value=2000, unit="tokens", ids=layers,
           how="the layered persona: 1,000 general + 1,000 traits tokens (§7 layering); a 5:1 LLM summary (GIST "
               "tokens proper need fine-tuning)")
    _check(r["l7.layering.total_tokens"], value=2000, unit="tokens", ids=layers, how="1,000 + 1,000 tokens")
    # 2,000 ÷ 10,000 − 1 = −80%
    before_after = {"l7.compression.tokens_before", "l7.compression.tokens_after"}
    _check(r["l7.effect.token_change"], value=-80, unit="%", ids=before_after,
           how="2,000 / 10,000 tokens − 1 = -80%")
    _check(r["l7.effect.cost_change"], value=-80, unit="%", ids=before_after,
           how="cost ∝ prompt tokens on any volume and $/token basis: 2,000 / 10,000 − 1; caching the persona "
               "(the 85% hits) would cut prefill further, which the figure ignores")
    for cid in ("l7.compression.tokens_after", "l7.layering.total_tokens", "l7.effect.token_change"):
        assert r[cid].under == () and r[cid].reads == () and not is_read_back(r[cid].value)


def _cost_rows(r):
    # 1M × 1,460 × 200 turns × tokens × $0.08 / 1M: 10K tokens $233.6M, 2K tokens $46.72M; the stated $4.8M and
    # $0.96M are 4.8M ÷ (1M × 200 × 10K × 0.08 / 1M = $160,000) = 30 sessions per slot a month (0.96M ÷ 32,000 = 30)
    for cid, tokens, text, millions in (("l7.effect.cost_before", 1e4, "10,000", "233.6"),
                                        ("l7.effect.cost_after", 2e3, "2,000", "46.7")):
        c = r[cid]
        _check(c, value=1e6 * 1460 * 200 * tokens * 0.08 / 1e6, unit="USD/month",
               how=f"1M concurrent sessions × 1,460 sessions a month each (open at once, Little's law) × 200 turns × "
                   f"{text} tokens × $0.08/1M (§2) = ${millions}M; the stated figure is 30 sessions per slot a "
                   "month, one a day")
        assert R.tags_of(c.value) == {("concurrent_sessions", "mean_open")}
        under = c.under_map
        assert set(under) == {("concurrent_sessions", "one_per_day"), ("concurrent_sessions", "peak_open")}
        assert_allclose(under[("concurrent_sessions", "one_per_day")].value,
                        1e6 * (730 / 24) * 200 * tokens * 0.08 / 1e6, rtol=1e-12)
        assert_allclose(under[("concurrent_sessions", "peak_open")].value, 1e6 * 1095 * 200 * tokens * 0.08 / 1e6,
                        rtol=1e-12)
        assert all(isinstance(a, Alt) and a.low is None and a.kind is None for a in under.values())


def _cache_rows(r, fast):
    c = r["l7.effect.cache_hit_rate"]
    # the stand-ins: LRU at s = 0.6 gives 12.5%, static at s = 1.2 87.5%, the static top share at s = (0.6 + 1.2)
    # ÷ 2 = 0.9 62.5%; 85% needs s = 1.0625
    assert ("hit", 5_000_000, 100_000, 0.6, "lru") in fast and ("hit", 5_000_000, 100_000, 1.2, "static") in fast
    assert ("top", 5_000_000, 100_000, pytest.approx(0.9, rel=1e-12)) in fast
    assert ("needed", 5_000_000, 100_000, 0.85) in fast
    assert len(fast) == 4
    assert all(type(a) is int for call in fast for a in call[1:3])
    _check(c, value=62.5, unit="%", kind="range",
           how="top 100,000 of 5,000,000 characters under Zipf popularity, s = 0.6 to 1.2 (web to video "
               "catalogues, data/parameters), LRU (Che's approximation) to a static top-100,000 cache: 12.5% to "
               "87.5% (central: static at s = 0.9); 85% needs s ≥ 1.062 with a static cache; the popularity is not "
               "published")
    assert (c.low, c.high) == (12.5, 87.5)
    assert c.reads == ("t1.s1_service.characters", "l7.effect.cached_top_characters")
    assert c.depends_on == "the characters' popularity law (its Zipf exponent) and the cache policy"
    b = r["l7.effect.cached_top_characters"]
    n = math.floor(1200 * BUDGET / (1000 * KV_TOKEN))
    _check(b, value=n, unit="count", kind="upper_bound",
           how="'GPU上にキャッシュ' bounded by the fleet's HBM: 1,200 A100 80GB (§11's peak fleet, the largest the "
               "source runs) × 8.3 GB KV budget each (Llama 2 70B INT8 weights, FP16 KV) ÷ 0.33 GB per character's "
               "own 1,000 tokens = 30,515 characters")
    assert b.reads == ("l11.autoscaling.peak_gpus", "l7.layering.individual_traits_tokens")
    assert b.holds_under == (
        "any of the fleets the source runs (the largest counted), §5's INT8 weights, every byte of KV memory given "
        "to personas and each character's own traits alone (the shared general persona held once): the source "
        "caches them on the GPU (GPU上にキャッシュ), not in CPU memory")


def _with(**values):
    rows = dict(_ROWS)
    for cid, v in values.items():
        rows[cid] = {**rows[cid], "stated_value": v}
    return rows.__getitem__


def test_figures_printed_at_their_rounding_edges(monkeypatch):
    """Printed figures just above a rounding edge: $0.08 a 1M tokens raised so that the 10K persona costs
    $233,650,001 a month ($233.7M); a KV budget of 8,350,000,005 bytes a GPU (8.4 GB) and 335,000.0002 bytes of KV a
    token (1,000 tokens: 0.3350000002 GB → 0.34 GB); then 1,200 × 8,350,000,005 ÷ (1,000 × 335,000.0002) characters."""
    # 1M sessions × 1,460 × 200 turns × 10,000 tokens ÷ 1M = 2.92e9 tokens-millions: price = 233,650,001 ÷ 2.92e9
    monkeypatch.setattr(C, "claim", _with(**{"t2.self_hosted.price": 233_650_001 / 2.92e9}))
    how = {c.claim_id: c.how for c in L7.computed()}["l7.effect.cost_before"]
    assert "× 10,000 tokens × $0.0800171/1M (§2) = $233.7M; " in how
    monkeypatch.setattr(L7, "memory_budget", lambda *a, **kw: SimpleNamespace(kv_budget_bytes=8_350_000_005.0))
    monkeypatch.setattr(L7, "kv_bytes_per_token", lambda arch, dtype="fp16": 335_000.0002)
    n, how = L7.fleet_capacity()
    assert n == math.floor(1200 * 8_350_000_005.0 / (1000 * 335_000.0002))
    assert how == (f"1,200 A100 80GB (§11's peak fleet, the largest the source runs) × 8.4 GB KV budget each (Llama 2 "
                   f"70B INT8 weights, FP16 KV) ÷ 0.34 GB per character's own 1,000 tokens = {n:,} characters")


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole as W

    monkeypatch.setattr(W, "section", lambda name: ("section", name))
    assert L7.table() == ("section", "model.audit.l7_persona")
