"""model.audit.t2_api_costs by hand, without the whole audit: T2's rows, the monthly volume and the API's bill under
every reading, the self-hosted price per million tokens, and the "naive" API row §1 and the lessons restate.

Hand figures: 10K concurrent sessions of 30 min: 730 h × 60 / 30 = 1,460 sessions a month per slot; 200 turns ×
100 new tokens (half user, half reply) = 20,000 tokens a session: 1e4 × 1,460 × 20,000 = 2.92e11 tokens a month.
Re-sending the history: Σ_{k=0}^{199} 100k = 1,990,000 more input tokens a session (2,010,000 in all); and the 10K
persona every turn, 200 × 10,000 = 2,000,000 more (4,010,000). GPT-3.5 Turbo (0125): $0.5 / $1.5 per 1M input /
output tokens. T9's GPU-hour: $4.5M / 900 / 730 h = $6.849; AWS on-demand $3.4309. T1's 92% utilisation:
a GPU-hour processes throughput × 3,600 × 0.92 = throughput × 3,312 tokens."""
import functools
import math

import pytest
from numpy.testing import assert_allclose

import model.audit.claims as _claims
from model.audit import t2_api_costs as t

T9_HOUR = 4.5e6 / 900 / 730
AWS_HOUR = 3.4309
MEASURED = 790.5                     # data/parameters: LMDeploy, Llama-2-70B, tp=4 on A100-80G
SLOT_MONTH = 1460


#: The serving model's saturation throughput (tokens/s per GPU) is replaced by round figures per reply length (it
#: is mutation-tested in its own module, and takes 0.8 s a process): the calls it gets are checked instead.
MODELLED = {100: 1000.0, 50: 1250.0, 500: 800.0}


def _modelled(reply):
    return MODELLED[reply]


@pytest.fixture(autouse=True)
def fake_modelled(monkeypatch):
    calls = []

    def fake(model="llama-2-70b", gpu="a100-80gb", n_gpus=4, *, prompt_tokens, reply_tokens, max_batch=256):
        calls.append((model, gpu, n_gpus, prompt_tokens, reply_tokens, max_batch))
        return MODELLED[reply_tokens]

    monkeypatch.setattr(t, "modelled_tokens_per_s_per_gpu", fake)
    return calls


def _price(usd_h, tps):
    return usd_h / (tps * 3312) * 1e6


@pytest.fixture
def rows():
    return {c.claim_id: c for c in t.computed()}


def test_setting():
    assert (t.API_MODEL, t.GPU, t.MODEL) == ("gpt-3.5-turbo-0125", ("a100-80gb", "aws", "on-demand"), "llama-2-70b")
    assert_allclose(t.utilization(), 0.92, rtol=1e-12)
    assert t._pct_change(0.08, 0.5) == pytest.approx(-84.0, rel=1e-12)
    assert t._pct_change(3.0, 2.0) == pytest.approx(50.0, rel=1e-12)
    r = t._nr("x.y", "s", "why", "measurement")
    assert math.isnan(r.value) and (r.claim_id, r.unit, r.how, r.role) == ("x.y", "s", "why", "measurement")


def test_tokens_per_s_per_gpu(fake_modelled):
    assert t.tokens_per_s_per_gpu() == {"modelled": _modelled(100), "measured": MEASURED}
    # Llama 2 70B on A100 80GB, TP 4 (batching_tp_degree_70b_a100), §8's 2K-token prompts, vLLM's 256 sequences
    assert fake_modelled == [("llama-2-70b", "a100-80gb", 4, 2000, 100, 256)]
    assert all(type(x) is int for x in fake_modelled[0][2:])
    assert t.tokens_per_s_per_gpu("s1_50") == {"modelled": _modelled(50), "measured": MEASURED}
    assert t.tokens_per_s_per_gpu("s2_500")["modelled"] == _modelled(500)


def test_workload():
    w = t.workload(10, 100.0)
    assert (w.concurrent_sessions, w.session_minutes, w.turns_per_session, w.tokens_per_turn) == (10, 30, 200, 100)
    assert (w.reply_share, w.resend_history, w.persona_tokens) == (0.5, False, 0.0)
    assert type(w.turns_per_session) is int
    w = t.workload(10, 50.0, resend_history=True, persona_tokens=7.0)
    assert (w.resend_history, w.persona_tokens, w.tokens_per_turn) == (True, 7.0, 50.0)


def test_statements():
    s = t.tokens_per_turn_statements()
    assert list(s.columns) == ["section", "statement", "tokens_per_turn"]
    assert list(s["section"]) == ["§1", "§8", "§8", "§2"]
    assert list(s["statement"]) == ["200 turns of history = 10K tokens → 10,000 / 200",
                                    "200 turns × 100 tokens = 20K tokens", "recent 10 turns = 1K tokens → 1,000 / 10",
                                    "… × 200 turns × 500 tokens = 60B tokens"]
    assert list(s["tokens_per_turn"]) == [50.0, 100.0, 100.0, 500.0] and s["tokens_per_turn"].dtype == float


def test_monthly_volume_under_each_reading():
    v = t.monthly_volume(1e4)
    assert (v.input_tokens, v.output_tokens, v.cached_input_tokens) == (1.46e11, 1.46e11, 0.0)
    assert_allclose(v.turns, 1e4 * SLOT_MONTH * 200, rtol=1e-12)
    assert_allclose(t.monthly_volume(1e4, tokens_per_turn="s1_50").total_tokens, 1.46e11, rtol=1e-12)
    assert_allclose(t.monthly_volume(1e4, tokens_per_turn="s2_500").total_tokens, 1.46e12, rtol=1e-12)
    assert_allclose(t.monthly_volume(1e4, tokens_billed="history").total_tokens, 1.46e7 * 2_010_000, rtol=1e-12)
    assert_allclose(t.monthly_volume(1e4, tokens_billed="history_persona").total_tokens, 1.46e7 * 4_010_000,
                    rtol=1e-12)
    # one 30-minute session a day: 730 / 24 sessions a month; at the peak: 1,460 × 0.75 = 1,095
    assert_allclose(t.monthly_volume(1e4, concurrency="one_per_day").total_tokens, 1e4 * 730 / 24 * 20_000,
                    rtol=1e-12)
    assert_allclose(t.monthly_volume(1e4, concurrency="peak_open").total_tokens, 1e4 * 1095 * 20_000, rtol=1e-12)
    assert t.VOLUME_READINGS == {"tokens_per_turn": "tokens_per_turn", "tokens_billed": "tokens_billed",
                                 "concurrent_sessions": "concurrency"}


def test_api_cost():
    # 1.46e11 input × $0.5/1M + 1.46e11 output × $1.5/1M = $73,000 + $219,000
    assert_allclose(t.api_cost(1e4), 292_000, rtol=1e-12)
    # history: 1.46e7 sessions × (2,000,000 input × 0.5 + 10,000 output × 1.5) / 1e6 = $14.819M
    assert_allclose(t.api_cost(1e4, tokens_billed="history"), 1.46e7 * (2e6 * 0.5 + 1e4 * 1.5) / 1e6, rtol=1e-12)


def test_across_volume():
    main, under = t.across_volume(lambda **kw: tuple(sorted(kw.items())))
    assert main == ()
    assert under == {("tokens_per_turn", "s1_50"): (("tokens_per_turn", "s1_50"),),
                     ("tokens_per_turn", "s2_500"): (("tokens_per_turn", "s2_500"),),
                     ("tokens_billed", "history"): (("tokens_billed", "history"),),
                     ("tokens_billed", "history_persona"): (("tokens_billed", "history_persona"),),
                     ("concurrent_sessions", "one_per_day"): (("concurrency", "one_per_day"),),
                     ("concurrent_sessions", "peak_open"): (("concurrency", "peak_open"),)}


def test_naive_api_cost_row():
    r = t.naive_api_cost_row("t1.inference_cost.initial")
    # 1M sessions: 100 × the 10K bill, $29.2M; history 100 × $14.819M = $1,481.9M; with the persona 1.46e9 ×
    # (4,000,000 × 0.5 + 10,000 × 1.5) / 1e6 = $2,941.9M; §2's own: $30K × 1M / 10K = $3M
    assert_allclose(r.value, 29.2e6, rtol=1e-12)
    assert (r.claim_id, r.unit, r.kind, r.role) == ("t1.inference_cost.initial", "USD/month", "estimate", "computed")
    assert r.how == ("the API's bill for 1M sessions: 1M x 1,460 sessions a month x 200 turns x 100 new tokens at "
                     "gpt-3.5-turbo-0125's input and output prices = $29.2M; re-sending the conversation $1,482M, "
                     "and the 10K persona too $2.9B; §2's own arithmetic gives $3M")
    under = dict(r.under)
    expected = {("concurrent_sessions", "one_per_day"): 29.2e6 / 1460 * 730 / 24,
                ("concurrent_sessions", "peak_open"): 29.2e6 * 0.75,
                ("tokens_billed", "history"): 1481.9e6, ("tokens_billed", "history_persona"): 2941.9e6,
                ("tokens_per_turn", "s1_50"): 14.6e6, ("tokens_per_turn", "s2_500"): 146e6}
    assert set(under) == set(expected)
    for k, v in expected.items():
        assert_allclose(under[k].value, v, rtol=1e-12, err_msg=str(k))


@pytest.fixture
def claim_ids(rows):
    return list(rows)


def test_claims_in_order(claim_ids):
    assert claim_ids == [
        "t2.arith.openai_price", "t2.openai.price", "t2.arith.concurrent_sessions", "t2.arith.session_length",
        "t2.arith.turns_per_session", "t2.arith.tokens_per_turn", "t2.arith.tokens_per_month",
        "t2.selection.tokens_per_month", "t2.arith.monthly_cost_10k", "t2.arith.sessions_1m",
        "t2.arith.monthly_cost_1m", "t2.self_hosted.price", "t2.self_hosted.price_change", "t2.openai.latency",
        "t2.self_hosted.latency", "t2.self_hosted.latency_change", "t2.openai.model", "t2.self_hosted.model",
        "t2.openai.hosting", "t2.self_hosted.hosting", "t2.openai.customisability", "t2.self_hosted.customisability",
        "t2.selection.price_difference", "t2.selection.monthly_saving", "t2.selection.annual_saving"]


def _check(r, value, unit, how, *, role="computed", restates=None, kind="estimate"):
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(r.value), r.claim_id
    else:
        assert_allclose(r.value, value, rtol=1e-12, err_msg=r.claim_id)
    assert (r.unit, r.how, r.role, r.restates, r.kind) == (unit, how, role, restates, kind), r.claim_id


def test_prices_and_inputs(rows):
    _check(rows["t2.arith.openai_price"], 0.5, "USD/1M tokens",
           "gpt-3.5-turbo-0125 input price (2024-01-25, data/prices); output tokens cost $1.5/1M")
    _check(rows["t2.openai.price"], 0.5, "USD/1M tokens",
           "gpt-3.5-turbo-0125 input price (2024-01-25, data/prices); output $1.5/1M")
    _check(rows["t2.arith.concurrent_sessions"], 1e4, "count",
           "restates the initial 10K concurrent sessions of T1/§1 (a scenario input)", role="restatement",
           restates="t1.sessions.initial")
    _check(rows["t2.arith.session_length"], 30, "min", "restates §1's 30-minute average session (an input)",
           role="restatement", restates="t1.s1_service.avg_session_length")
    _check(rows["t2.arith.turns_per_session"], 200, "turns", "restates §1's 200 turns per session (an input)",
           role="restatement", restates="t1.s1_service.turns_per_session")
    _check(rows["t2.arith.sessions_1m"], 1e6, "count", "restates T1's 1M target (a scenario input)",
           role="restatement", restates="t1.sessions.optimized")
    r = rows["t2.arith.tokens_per_turn"]
    _check(r, 100, "tokens",
           "§8 states 100 tokens a turn (the audit's reading), §1's 10K over 200 turns gives 50, §2 uses 500")
    assert list(dict(r.under)) == [("tokens_per_turn", "s1_50")] and dict(r.under)[("tokens_per_turn", "s1_50")].value == 50


def test_volume_rows(rows):
    how = ("10K concurrent × 1,460 sessions a month each (Little's law: 730 h × 60 / 30 min) × 200 turns × 100 new "
           "tokens = 292B; the stated factors multiply to 30B, not 60B")      # 1e4 × 30 × 200 × 500 = 3e10
    _check(rows["t2.arith.tokens_per_month"], 2.92e11, "tokens/month", how)
    _check(rows["t2.selection.tokens_per_month"], 2.92e11, "tokens/month", "same volume as §2's initial setup: " + how)
    for cid in ("t2.arith.tokens_per_month", "t2.selection.tokens_per_month"):
        under = dict(rows[cid].under)
        assert_allclose([under[("tokens_billed", "history")].value, under[("concurrent_sessions", "peak_open")].value,
                         under[("tokens_per_turn", "s2_500")].value],
                        [1.46e7 * 2_010_000, 1e4 * 1095 * 20_000, 1.46e12], rtol=1e-12)
        assert len(under) == 6


def test_cost_rows(rows):
    # stated 60B × $0.5/1M = $30,000; × 1M / 10K = $3M
    _check(rows["t2.arith.monthly_cost_10k"], 30_000, "USD/month",
           "stated 60B × $0.5/1M = $30K (the API's bill for the model's 292B tokens: $292K, see "
           "t1.inference_cost.initial)")
    _check(rows["t2.arith.monthly_cost_1m"], 3e6, "USD/month",
           "$30K × (1M / 10K) = $3.0M; §1 and the lessons say $300M for the same API route (100× more)")
    _check(rows["t2.self_hosted.price_change"], -84, "%", "0.08 / 0.5 − 1 = -84% (arithmetic of the stated prices)")
    _check(rows["t2.self_hosted.latency_change"], 100 * (2.2 / 1.8 - 1), "%",
           "2.2 / 1.8 − 1 = +22.2% (arithmetic of the stated latencies)")
    _check(rows["t2.selection.price_difference"], 0.42, "USD/1M tokens", "0.5 − 0.08 = 0.42")
    # 6e10 / 1e6 × 0.42 = $25,200; × 12 = $302,400
    _check(rows["t2.selection.monthly_saving"], 25_200, "USD/month",
           "60B × $0.42/1M = $25,200 (arithmetic of the stated figures)")
    _check(rows["t2.selection.annual_saving"], 302_400, "USD/year", "12 × $25,200 = $302,400")


def test_not_reproducible_rows(rows):
    _check(rows["t2.openai.latency"], math.nan, "s",
           "a measurement of the API; no model of OpenAI's serving to recompute it", role="measurement")
    _check(rows["t2.self_hosted.latency"], math.nan, "s",
           "a measurement; equals T3's vLLM P95 (2.2 s), whose reproduction is the batching chapter's",
           role="measurement")
    for side in ("openai", "self_hosted"):
        _check(rows[f"t2.{side}.model"], math.nan, "text", "qualitative (a model name)", role="qualitative")
        _check(rows[f"t2.{side}.hosting"], math.nan, "text", "qualitative (a hosting choice)", role="qualitative")
        _check(rows[f"t2.{side}.customisability"], math.nan, "text", "qualitative", role="qualitative")


def test_self_hosted_price(rows):
    r = rows["t2.self_hosted.price"]
    m100 = _modelled(100)
    lo, hi = _price(T9_HOUR, m100), _price(T9_HOUR, MEASURED)          # $6.849 / (790.5 × 3,312) × 1e6 = $2.616
    assert_allclose(hi, 2.6161, rtol=1e-4)
    assert_allclose([r.value, r.low, r.high], [math.sqrt(lo * hi), lo, hi], rtol=1e-12)
    assert (r.unit, r.kind) == ("USD/1M tokens", "range")
    assert r.depends_on == "the tokens per second a GPU sustains (the serving model's or a published measurement)"
    # $0.08 needs $6.849 / (0.08e-6 × 3,312) = 25,850.6 tok/s
    assert r.how == (f"$6.85/GPU-h (T9's $5,000 a GPU-month) / (throughput × 3600 × 92%) × 1e6 over the throughput "
                     f"the source leaves open: modelled {m100:,.0f} tok/s/GPU, measured 790: ${lo:.2f} to ${hi:.2f} "
                     "(central: geometric mean); $0.08 needs 25,850 tok/s per GPU")
    under = dict(r.under)
    assert set(under) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500"), ("gpu_price", "aws_on_demand")}
    for key, usd_h, reply in ((("tokens_per_turn", "s1_50"), T9_HOUR, 50),
                              (("tokens_per_turn", "s2_500"), T9_HOUR, 500),
                              (("gpu_price", "aws_on_demand"), AWS_HOUR, 100)):
        p = sorted([_price(usd_h, _modelled(reply)), _price(usd_h, MEASURED)])
        assert_allclose([under[key].value, under[key].low, under[key].high], [math.sqrt(p[0] * p[1]), *p],
                        rtol=1e-12, err_msg=str(key))


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole

    monkeypatch.setattr(model.audit.whole, "section", lambda name: ("section", name))
    assert t.table() == ("section", "model.audit.t2_api_costs")


_CLAIM = functools.lru_cache(maxsize=None)(_claims.claim)


@pytest.fixture(autouse=True)
def _claims_looked_up_once(monkeypatch):
    """Each stated figure of data/claims looked up once (a pure lookup of a fixed table, a pandas filter per call
    otherwise): the rows are computed several times faster, which keeps a run of the module's mutants short."""
    monkeypatch.setattr(_claims, "claim", _CLAIM)


def test_monthly_volume_scales_every_count(monkeypatch):
    """One 30-minute session a day: each slot holds 730 / 24 sessions a month, not 1,460, so every count of the
    workload (inputs, cached inputs, outputs, turns) is scaled by (730 / 24) / 1,460; with half the inputs cached."""
    plain = t.workload
    monkeypatch.setattr(t, "workload", lambda *a, **k: plain(*a, cached_input_share=0.5, **k))
    v = t.monthly_volume(1e4, concurrency="one_per_day")
    sessions = 1e4 * 730 / 24
    assert_allclose([v.input_tokens, v.cached_input_tokens, v.output_tokens, v.turns],
                    [sessions * 10_000, sessions * 5_000, sessions * 10_000, sessions * 200], rtol=1e-12)
