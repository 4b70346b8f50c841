from numpy.testing import assert_allclose

from model.audit import t6_regions


def test_audit_t6_covers_the_table():
    a = t6_regions.table()
    assert a["claim_id"].str.startswith("t6.").all() and len(a) == 16
    v = a.set_index("claim_id")["verdict"]
    assert v["t6.europe.latency_from_us_east"] == "inconsistent"     # 120 ms above every European region
    assert v["t6.asia.latency_from_us_east"] == "consistent"         # 200 ms in 165-244 ms (1.48x: decides)
    # 50 ms lies in 11-75 ms, a range 6.8x wide: it depends on which region stands for North America
    assert v["t6.north_america.latency_from_us_east"] == "not reproducible"
    assert v["t6.multiregion.asia_latency_before"] == "given"       # restates T6's Asia row
    assert v["t6.multiregion.regions"] == "given"
    assert v["t6.multiregion.cost_increase"] == "inconsistent"      # 360 GPUs x $5,000 = $1.8M


def test_source_setting():
    assert_allclose(t6_regions.inference_region_shares(), [0.45, 0.25, 0.30])
    assert_allclose(t6_regions.usd_per_gpu_month(), 4.5e6 / 900)
    assert_allclose(t6_regions.spare_share(), 0.10)
