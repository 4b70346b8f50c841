import pytest
from numpy.testing import assert_allclose

from model.regions import (GROUPS, group_rtt, multiregion_cost_table, multiregion_gpus, rtt_table, split_fleet,
                           region_shares, weighted_latency)
from model.validation import ParameterError


def test_rtt_table_checksum_and_groups():
    t = rtt_table()
    assert set(t["destination_group"]) == set(GROUPS)
    assert (t["rtt_p95_ms"] > 0).all()
    # spot values of the published matrix: East US -> West Europe 89 ms, Japan East -> Korea Central 35 ms
    row = t[(t.source_region == "East US") & (t.destination_region == "West Europe")]
    assert row["rtt_p95_ms"].item() == 89
    row = t[(t.source_region == "Japan East") & (t.destination_region == "Korea Central")]
    assert row["rtt_p95_ms"].item() == 35


def test_group_rtt_ordering():
    r = group_rtt("East US", "europe")
    assert r.minimum <= r.q1 <= r.median <= r.q3 <= r.maximum
    # farther continents are farther
    assert group_rtt("East US", "north_america").median < r.median < group_rtt("East US", "asia").median


def test_weighted_latency():
    assert_allclose(weighted_latency([0.4, 0.25, 0.3, 0.05], [50, 120, 200, 150]), 117.5)
    with pytest.raises(ParameterError, match="sum to"):
        weighted_latency([0.4, 0.25, 0.3], [1, 2, 3])
    with pytest.raises(ParameterError, match="shares"):
        weighted_latency([-0.1, 1.1], [1, 2])


def test_fleet_split_and_region_loss():
    shares = [0.45, 0.25, 0.30]
    assert_allclose(split_fleet(900, shares, spare_share=0.1), [446, 248, 297])
    assert multiregion_gpus(900, shares, spare_share=0.1, survive_region_loss=True) == 1350  # 1.5 x 900
    t = multiregion_cost_table(900, shares, spare_share=0.1, usd_per_gpu_month=5000)
    assert t["extra_gpus"].iloc[0] == 0
    assert_allclose(t["extra_usd_per_month"].iloc[2], (1350 - 990) * 5000)


def test_region_shares_validated():
    assert region_shares({"na": 0.5, "eu": 0.5}) == {"na": 0.5, "eu": 0.5}
    with pytest.raises(ParameterError, match="sum to"):
        region_shares({"na": 0.5, "eu": 0.6})
