"""The tier-configuration chapter's sentence builders (model.book.phrases), one expected string per branch."""
from model.book import phrases
from model.economics.prices import gpu_price


def test_replica_text_per_branch():
    assert phrases.replica_text(8, "h100-80gb") == "8 × h100-80gb (tensor parallel)"
    assert phrases.replica_text(1, "a100-80gb") == "1 × a100-80gb"


def test_gpu_price_source_text_per_branch():
    assert phrases.gpu_price_source_text(gpu_price("h100-80gb", usd_per_gpu_hour=2.5)) == "as set in the parameters"
    row = gpu_price("h100-80gb")
    assert phrases.gpu_price_source_text(row) == f"{row.provider} {row.pricing}, {row.date}, data/prices/gpu_prices.csv"
    assert phrases.gpu_price_source_text(row).startswith("aws on-demand, ")
