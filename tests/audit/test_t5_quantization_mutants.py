"""model.audit.t5_quantization by hand, without the whole audit: every row of T5 and of the INT8 success factor
(value, unit, kind, role, words) at the source's setting, Llama 2 70B on A100 80GB, sessions of 10,000 tokens.

Hand figures: Llama 2 70B has p = 68,976,648,192 parameters (data/models); its KV cache is 2 × 80 layers × 8 KV
heads × 128 × 2 B = 327,680 B a token, so kv = 10,000 × 327,680 = 3,276,800,000 B a session. One A100 80GB offers
0.9 × 80 GiB = 77,309,411,328 B (77.3 GB); beside the INT8 weights (p B) it holds
(77,309,411,328 − 68,976,648,192) ÷ 3,276,800,000 = 2.54, so 2 whole sessions."""
import functools
import math

import pytest
from numpy.testing import assert_allclose

import model.audit.claims as _claims
from model.audit import t5_quantization as q
from model.audit.claims import stated_value

P = 68_976_648_192
KV = 10_000 * 327_680
BOUND = (2 * P + KV) / (P + KV)            # one sequence: 141,230,096,384 / 72,253,448,192 = 1.9546
FULL = (2 * P + 2 * KV) / (P + 2 * KV)     # the 2 sessions that fit: 144,506,896,384 / 75,530,248,192 = 1.9132
T9_HOUR = 4.5e6 / 900 / 730                # T9: $4.5M a month for 900 GPUs, 730 h a month: $6.849/GPU-h
AWS_HOUR = 3.4309                          # data/prices/gpu_prices.csv: a100-80gb aws on-demand


@pytest.fixture
def rows():
    return {c.claim_id: c for c in q.computed()}


def test_constants():
    assert (q.MODEL, q.GPU, q.BASELINE, q.QUANTIZED) == ("llama-2-70b", "a100-80gb", "fp16", "int8")


def test_source_gpu_price_under_each_reading():
    assert_allclose(float(q.source_gpu_price()), T9_HOUR, rtol=1e-12)
    assert_allclose(float(q.source_gpu_price("t9")), T9_HOUR, rtol=1e-12)
    assert_allclose(float(q.source_gpu_price("aws_on_demand")), AWS_HOUR, rtol=1e-12)


def test_claims_in_order(rows):
    assert list(rows) == ["t5.fp16.model_size", "t5.int8.model_size", "t5.fp16.gpu_memory", "t5.int8.gpu_memory",
                          "t5.int8.fits_one_a100", "t5.fp16.inference_speed", "t5.int8.inference_speed",
                          "t5.fp16.accuracy_loss", "t5.int8.accuracy_loss", "t5.effect.gpus_before",
                          "t5.effect.gpus_after", "t5.effect.gpu_change", "s.success_int8.gpu_change",
                          "t5.effect.monthly_saving"]


def test_weights(rows):
    for cid, v, b in (("t5.fp16.model_size", 2 * P, 2), ("t5.int8.model_size", P, 1)):
        r = rows[cid]
        assert (r.value, r.unit, r.kind, r.role) == (v, "bytes", "estimate", "computed")
        assert r.how == f"68,976,648,192 parameters x {b} B"
    held = ("any placement of the KV cache: the weights are read at every step, so they sit in GPU memory "
            "(the source offloads only KV pages)")
    for cid, v, gb in (("t5.fp16.gpu_memory", 2 * P, "138.0"), ("t5.int8.gpu_memory", P, "69.0")):
        r = rows[cid]
        assert (r.value, r.unit, r.kind, r.holds_under) == (v, "bytes", "lower_bound", held)
        assert r.how == f"GPU memory holds at least the weights; the KV cache and activations come on top: {gb} GB"


def test_fits_one_a100(rows):
    r = rows["t5.int8.fits_one_a100"]
    assert math.isnan(r.value) and (r.unit, r.role, r.restates) == ("text", "restatement", "t5.int8.gpu_memory")
    assert r.how == ("restates 70 GB < the A100's 80 GB; the model agrees: INT8 weights 69.0 GB < 77.3 GB usable on "
                     "one a100-80gb, leaving room for 2 sessions of 10,000 tokens")


def test_definitions(rows):
    r = rows["t5.fp16.inference_speed"]
    assert math.isnan(r.value) and (r.unit, r.role) == ("text", "definition")
    assert r.how == "FP16 is the reference speed ('標準', 'standard')"
    r = rows["t5.fp16.accuracy_loss"]
    assert math.isnan(r.value) and (r.unit, r.role) == ("text", "definition")
    assert r.how == "FP16 is the reference ('なし', 'none')"


def test_speed_bound(rows):
    r = rows["t5.int8.inference_speed"]
    assert_allclose(r.value, BOUND, rtol=1e-12)
    assert (r.unit, r.kind, r.role) == ("x", "upper_bound", "computed")
    assert r.how == ("decode reads all weights + the KV cache each step: one 10,000-token sequence reads 1.95x fewer "
                     "bytes with INT8 weights (2x at most, 1.91x at the 2 sessions that fit on one A100); published "
                     "measured INT8 gains are lower (data/quantization/speedups.csv)")
    assert r.holds_under == ("decode, which a chat turn's reply is, at any batch: INT8 halves the bytes of the "
                             "weights, not of the FP16 KV cache (prefill, compute-bound, could gain up to 2x "
                             "with INT8 arithmetic)")


def test_accuracy_range(rows):
    # data/quantization/accuracy.csv, Llama 2 70B with 8-bit integer weights: perplexity +1.17% and +1.20%
    # (SmoothQuant), MMLU −2.75% (TensorRT-LLM): median −1.20, range −2.75 to −1.17
    r = rows["t5.int8.accuracy_loss"]
    assert (r.unit, r.kind, r.role) == ("%", "range", "computed")
    assert_allclose([r.value, r.low, r.high], [-1.20, -2.75, -1.17], rtol=1e-12)
    assert r.depends_on == "the INT8 scheme and the benchmark, which the source does not name"
    assert r.how == ("the source names no benchmark or INT8 scheme: published INT8 results for this model range "
                     "-1.17% (SmoothQuant W8A8 (alpha 0.9), wikitext2_perplexity), -1.20% (SmoothQuant W8A8 "
                     "(per-tensor static KV quantization), wikitext2_perplexity), -2.75% (INT8 SmoothQuant (W8A8, "
                     "TensorRT-LLM), mmlu_accuracy_pct); a perplexity rise counts as a loss")


def test_gpus(rows):
    r = rows["t5.effect.gpus_before"]
    assert (r.value, r.unit, r.role, r.restates) == (1630, "count", "restatement", "t4.cb.gpus_for_1m")
    assert r.how == "restates t4.cb.gpus_for_1m (1630 GPUs after continuous batching), judged there"
    # 1,630 / 1.9546 = 833.9 GPUs at least; at the stated 1.8x 1,630 / 1.8 = 905.6
    r = rows["t5.effect.gpus_after"]
    assert_allclose(r.value, 1630 / BOUND, rtol=1e-12)
    assert (r.unit, r.kind) == ("count", "lower_bound")
    assert r.how == "1,630 GPUs / at most 1.95x faster = at least 834 GPUs (at the stated 1.8x: 906)"
    assert r.holds_under == "the same demand on GPUs each at most the decode bound faster (t5.int8.inference_speed)"
    r = rows["t5.effect.gpu_change"]
    assert_allclose(r.value, -730 / 1630 * 100, rtol=1e-12)      # −44.8%
    assert (r.unit, r.kind, r.role, r.how) == ("%", "estimate", "computed", "(900 - 1,630) / 1,630")
    r = rows["s.success_int8.gpu_change"]
    assert (r.value, r.unit, r.role, r.restates) == (-45, "%", "restatement", "t5.effect.gpu_change")
    assert r.how == "restates t5.effect.gpu_change (-45%), judged there"


def test_monthly_saving(rows):
    # 730 fewer GPUs × 730 h × $6.849 = 730 × $5,000 = $3.65M; at AWS's $3.4309: 730 × 730 × 3.4309 = $1,828,326.61
    r = rows["t5.effect.monthly_saving"]
    assert_allclose(r.value, 730 * 5000, rtol=1e-12)
    assert (r.unit, r.kind, r.role) == ("USD/month", "estimate", "computed")
    under = dict(r.under)
    assert list(under) == [("gpu_price", "aws_on_demand")]
    assert_allclose(under[("gpu_price", "aws_on_demand")].value, 730 * 730 * AWS_HOUR, rtol=1e-12)
    # the stated $1.6M over 730 GPUs × 730 h: $3.0024/GPU-h
    assert r.how == ("730 fewer GPUs x 730 h x $6.85/GPU-h (T9's $5,000 a GPU-month); the stated $1.6M implies "
                     "$3.00/GPU-h")


def test_figures():
    f = q.figures()
    assert set(f) == {"context_tokens", "speedup_bound", "min_gpus_after", "quality_low", "quality_high",
                      "price_source", "price_implied", "saving_at_source_price", "t9_gpu_monthly_cost"}
    assert all(type(v) is float for v in f.values())
    expected = {"context_tokens": 10_000, "speedup_bound": BOUND, "min_gpus_after": 1630 / BOUND,
                "quality_low": -2.75, "quality_high": -1.17, "price_source": T9_HOUR,
                "price_implied": 1.6e6 / (730 * 730), "saving_at_source_price": 3.65e6, "t9_gpu_monthly_cost": 4.5e6}
    for k, v in expected.items():
        assert_allclose(f[k], v, rtol=1e-12, err_msg=k)
    assert stated_value("t9.gpu.monthly_cost") == 4.5e6


def test_no_session_fits(monkeypatch):
    """Were no session to fit beside the INT8 weights, the bound at the sessions that fit is NaN (not a call with a
    batch of 0)."""
    monkeypatch.setattr(q, "sessions_beside_weights", lambda *a, **k: 0)
    r = {c.claim_id: c for c in q.computed()}["t5.int8.inference_speed"]
    assert_allclose(r.value, BOUND, rtol=1e-12)
    assert "(2x at most, nanx at the 0 sessions that fit on one A100)" in r.how


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole

    monkeypatch.setattr(model.audit.whole, "section", lambda name: ("section", name))
    assert q.table() == ("section", "model.audit.t5_quantization")


_CLAIM = functools.lru_cache(maxsize=None)(_claims.claim)


@pytest.fixture(autouse=True)
def _claims_looked_up_once(monkeypatch):
    """Each stated figure of data/claims looked up once (a pure lookup of a fixed table, a pandas filter per call
    otherwise): the rows are computed several times faster, which keeps a run of the module's mutants short."""
    monkeypatch.setattr(_claims, "claim", _CLAIM)
