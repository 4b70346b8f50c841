"""The tier-configuration chapter's chart helpers (model.book.charts)."""
import numpy as np
import pandas as pd
import pytest

from model.book.charts import kareto_frontier_chart, padded_domain


def test_padded_domain_widens_the_range_by_its_share():
    assert padded_domain([1.0, 3.0, np.nan]) == pytest.approx([0.84, 3.16])
    assert padded_domain([10.0, 20.0], share=0.5) == pytest.approx([5.0, 25.0])
    # one value: pad by a share of its magnitude (at least of 1)
    assert padded_domain([50.0]) == pytest.approx([46.0, 54.0])
    assert padded_domain([0.0, 0.0]) == pytest.approx([-0.08, 0.08])


def test_frontier_chart_layers_and_domains():
    mc = pd.DataFrame({"dram_gb": [0, 512], "throughput_at_slo_rps": [1.0, 3.0], "usd_per_million_tokens": [2.0, 4.0],
                       "ttft_p95_s": [1.0, 0.5], "hit_ratio": [0.1, 0.5], "on_frontier": [True, False]})
    base = pd.DataFrame([{"dram_gb": 1024, "throughput_at_slo_rps": 2.0, "usd_per_million_tokens": 3.0, "feasible": True}])
    spec = kareto_frontier_chart(mc, base, ["dram_gb"]).to_dict()
    assert len(spec["layer"]) == 3
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == pytest.approx([0.84, 3.16])
