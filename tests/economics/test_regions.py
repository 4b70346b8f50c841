import pytest
from numpy.testing import assert_allclose

from model.economics.regions import (GROUPS, group_rtt, multiregion_cost_table, multiregion_gpus, rtt_table, split_fleet,
                           region_shares, weighted_latency)
from model.checks import ParameterError


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


# --- by hand, against realistic bugs -----------------------------------------------------------------------

def test_group_rtt_quartiles_by_hand():
    # East US -> the 19 European regions of the matrix, sorted: 74 80 82 83 89 90 90 93 95 96 96 97 97 98 104 104
    # 105 106 110; linear-interpolated quartiles at positions 4.5, 9 and 13.5
    r = group_rtt("East US", "europe")
    assert (r.source_region, r.group, r.n_regions) == ("East US", "europe", 19)
    assert (r.minimum, r.q1, r.median, r.q3, r.maximum) == (74.0, 89.5, 96.0, 101.0, 110.0)
    assert r.within_iqr(89.5) and r.within_iqr(101.0) and r.within_iqr(96)
    assert not r.within_iqr(89.4) and not r.within_iqr(101.1)
    with pytest.raises(ParameterError, match=r"^source_region="):
        group_rtt("Mars", "europe")
    with pytest.raises(ParameterError, match=r"^group="):
        group_rtt("East US", "antarctica")


def test_weighted_latency_errors_name_the_input():
    with pytest.raises(ParameterError, match="latencies_ms="):
        weighted_latency([0.5, 0.5], [10.0])
    with pytest.raises(ParameterError, match=r"latencies_ms\[1\]"):
        weighted_latency([0.5, 0.5], [10.0, -1.0])
    assert weighted_latency([1.0], [42.0]) == 42.0


def test_split_fleet_rounds_each_region_up():
    assert split_fleet(100, [0.5, 0.5]).tolist() == [50, 50]                 # exact shares are not bumped
    assert split_fleet(10, [0.25, 0.75]).tolist() == [3, 8]                  # 2.5 -> 3, 7.5 -> 8
    assert split_fleet(10, [0.25, 0.75], spare_share=0.2).tolist() == [3, 9]  # 3.0, 9.0
    with pytest.raises(ParameterError, match=r"^gpus="):
        split_fleet(-1, [1.0])
    with pytest.raises(ParameterError, match=r"^spare_share="):
        split_fleet(1, [1.0], spare_share=-0.5)


def test_multiregion_gpus_takes_the_larger_need():
    # spares already cover a region loss: 2 x ceil(0.5 x 100 x 2.5) = 250 >= 2 x 100
    assert multiregion_gpus(100, [0.5, 0.5], spare_share=1.5, survive_region_loss=True) == 250
    assert multiregion_gpus(100, [0.5, 0.5], spare_share=0.0, survive_region_loss=True) == 200
    assert multiregion_gpus(100, [0.5, 0.5], spare_share=0.0, survive_region_loss=False) == 100
    # a fractional need is whole GPUs: 1.5 x 11 = 16.5 -> 17
    assert multiregion_gpus(11, [1 / 3] * 3, spare_share=0.0, survive_region_loss=True) == 17


def test_multiregion_cost_table_by_hand():
    t = multiregion_cost_table(100, [0.5, 0.5], spare_share=0.0, usd_per_gpu_month=10.0, usd_per_region_month=7.0)
    assert list(t.columns) == ["design", "regions", "gpus", "extra_gpus", "extra_usd_per_month"]
    assert t["design"].tolist() == ["one region (+spares)", "split by user share (+spares)",
                                    "split, survives one region down"]
    assert t["regions"].tolist() == [1, 2, 2] and t["gpus"].tolist() == [100, 100, 200]
    assert t["extra_gpus"].tolist() == [0, 0, 100]
    assert t["extra_usd_per_month"].tolist() == [0.0, 7.0, 1007.0]
    with pytest.raises(ParameterError, match=r"^usd_per_gpu_month="):
        multiregion_cost_table(1, [1.0], spare_share=0.0, usd_per_gpu_month=0)
    with pytest.raises(ParameterError, match=r"^usd_per_region_month="):
        multiregion_cost_table(1, [1.0], spare_share=0.0, usd_per_gpu_month=1.0, usd_per_region_month=-1)


def test_group_median_and_messages_by_hand():
    # East US -> the 11 North American regions: 11 22 26 27 35 44 54 63 70 74 75 -> median 44, quartiles 26.5, 66.5
    r = group_rtt("East US", "north_america")
    assert (r.n_regions, r.minimum, r.q1, r.median, r.q3, r.maximum) == (11, 11.0, 26.5, 44.0, 66.5, 75.0)
    for call in (lambda: region_shares({"a": 0.5, "b": 0.6}), lambda: split_fleet(1, [0.5, 0.6]),
                 lambda: weighted_latency([0.5, 0.6], [1, 2])):
        with pytest.raises(ParameterError, match=r"^shares=\[0\.5, 0\.6\] "):
            call()
    with pytest.raises(ParameterError, match=r"^latencies_ms=\[10\.0\] is not allowed: latencies_ms must be one "
                                             r"latency per share \(2\)$"):
        weighted_latency([0.5, 0.5], [10.0])
