"""model.book.phrases: the sentences of the persona and memory chapter, against hand-written text for each branch."""
from model.book.phrases import (enough_text, persona_cache_home, persona_hbm_sentence, persona_hbm_share,
                                persona_kv_budget_sentence, prefill_price_label)
from model.economics.prices import GpuPrice, gpu_price
from model.kv import MemoryBudget

GB = 1e9

FITS = MemoryBudget(n_gpus=1, total_bytes=80 * GB, usable_bytes=72 * GB, weight_bytes=70 * GB,
                    kv_bytes_per_session=1 * GB)    # 2 GB left for KV
OVER = MemoryBudget(n_gpus=1, total_bytes=80 * GB, usable_bytes=72 * GB, weight_bytes=140 * GB,
                    kv_bytes_per_session=1 * GB)    # weights do not fit


def test_prefill_price_label():
    row = GpuPrice(gpu="a100-80gb", provider="aws", pricing="on-demand", usd_per_gpu_hour=5.12,
                   date="2024-05", source="aws.amazon.com")
    assert prefill_price_label(row) == "AWS on-demand, 2024-05"
    assert prefill_price_label(gpu_price("a100-80gb", usd_per_gpu_hour=2.0)) == "a price set by hand"


def test_persona_kv_budget_sentence():
    assert FITS.weights_fit and not OVER.weights_fit
    assert persona_kv_budget_sentence(FITS, weight_dtype="int8", gpu_name="A100-80GB") == (
        "With INT8 weights on one A100-80GB the KV budget left per GPU is 2.0 GB, and conversations need it too.")
    assert persona_kv_budget_sentence(OVER, weight_dtype="fp16", gpu_name="A100-80GB") == (
        "With FP16 weights the model alone (140 GB) exceeds the usable memory of one A100-80GB: no KV budget is "
        "left (feasible = False below).")


def test_persona_hbm_sentence():
    kw = dict(fleet_gpus=900, fleet_personas=2_500, popular_characters=100_000, weight_dtype="int8",
              model_name="Llama 2 70B", gpu_name="A100-80GB")
    assert persona_hbm_sentence(True, **kw) == (
        "The whole fleet's HBM (900 GPUs), emptied of conversations, holds 2,500 personas (2.5% of the 100,000 "
        "the cache should hold)")
    assert persona_hbm_sentence(False, **kw) == (
        "With INT8 weights, Llama 2 70B does not fit on one A100-80GB: its HBM holds no persona at all")


def test_persona_hbm_share():
    assert persona_hbm_share(0, 100_000) == "none"
    assert persona_hbm_share(25_000, 100_000) == "×1/4"
    assert persona_hbm_share(300_000, 100_000) == "×3"


def test_enough_text():
    assert enough_text(100_000, 100_000) == "enough"
    assert enough_text(99_999, 100_000) == "not enough"


def test_persona_cache_home():
    assert persona_cache_home(100_000, 0, 100_000) == "fits in the GPUs' HBM itself"
    assert persona_cache_home(2_500, 100_000, 100_000) == (
        "is a DRAM cache with character-affinity routing before it is a GPU cache")
    assert persona_cache_home(2_500, 99_999, 100_000) == (
        "needs SSD (or more DRAM) as well: neither HBM nor DRAM holds it")
