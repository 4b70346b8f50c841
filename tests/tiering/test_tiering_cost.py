"""model.tiering.cost: storage cost by hand (GB × $/GB-month ÷ 730 h)."""
from numpy.testing import assert_allclose

from model.tiering import Tier, TierConfig, storage_cost_per_hour


def test_storage_cost_by_hand(engine):
    tiers = (Tier("hbm", 10, 2e12, 2e12, 0.0), Tier("dram", 1000, 3e10, 3e10, 3.0))
    cfg = TierConfig(tiers=tiers, engine=engine)
    cost = storage_cost_per_hour(cfg)
    gb = 1000 * 512 * engine.kv_bytes_per_token / 1e9
    assert_allclose(cost["dram"], gb * 3.0 / 730)
    assert cost["hbm"] == 0.0
