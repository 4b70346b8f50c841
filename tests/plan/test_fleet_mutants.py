"""model.plan.fleet by hand: replicas at the peak, each region's share of the GPUs rounded up with its spares,
busy GPUs at the mean, the aggregated/disaggregated choice made again on the resized pools, nodes per region,
and the checks of a fleet's shape."""
import math

import pytest

from model.checks import ParameterError
from model.plan.fleet import (FleetShape, equal_shares, fleet_pool, fleet_serving, gpus_by_region, nodes_of,
                              region_shares_from)
from model.plan.serving import Pool, Serving


def pool(role="aggregated", tp=2, rate=3.0, replicas=1, gpus=2):
    return Pool(role, tp, rate, replicas, gpus, 0.0, math.nan, math.nan, 0.0)


def test_shape_defaults_and_checks():
    s = FleetShape()
    assert (s.peak_to_mean, s.spare_fraction, s.region_shares, s.regions) == (1.0, 0.0, (1.0,), 1)
    assert FleetShape(region_shares=(0.5, 0.25, 0.25)).regions == 3
    FleetShape(peak_to_mean=1.0, spare_fraction=0.0)
    with pytest.raises(ParameterError, match=r"^peak_to_mean=0\.99 is not allowed"):
        FleetShape(peak_to_mean=0.99)
    with pytest.raises(ParameterError, match=r"^spare_fraction=-0\.1 is not allowed"):
        FleetShape(spare_fraction=-0.1)
    with pytest.raises(ParameterError, match=r"^region_shares"):
        FleetShape(region_shares=(0.5, 0.6))


def test_equal_shares_and_region_shares():
    assert equal_shares(1) == (1.0,) and equal_shares(3) == (1 / 3,) * 3
    with pytest.raises(ParameterError, match=r"^regions=0 is not allowed"):
        equal_shares(0)
    assert region_shares_from(None, None) == (1.0,)
    assert region_shares_from(2, None) == (0.5, 0.5)
    assert region_shares_from(None, [0.75, 0.25]) == (0.75, 0.25)
    assert region_shares_from(2, [0.75, 0.25]) == (0.75, 0.25)
    with pytest.raises(ParameterError, match=r"^region_shares=\[0\.5, 0\.5\] is not allowed: region_shares must be "
                                             r"3 shares, one per region \(--regions\)$"):
        region_shares_from(3, [0.5, 0.5])
    with pytest.raises(ParameterError, match=r"^region_shares\[1\]"):
        region_shares_from(None, [0.5, 1.5])


def test_a_pool_at_the_peak_with_spares_in_each_region():
    """Mean 10 requests/s, peak 1.5 × 10 = 15; a replica carries 3/s on 2 GPUs: 5 replicas, 10 GPUs; two regions
    0.7/0.3 with 10% spares: ⌈7 × 1.1⌉ = 8 and ⌈3 × 1.1⌉ = 4 GPUs; busy GPUs at the mean: 10 / 3 × 2."""
    shape = FleetShape(peak_to_mean=1.5, spare_fraction=0.1, region_shares=(0.7, 0.3))
    p = fleet_pool(pool(), 10.0, shape)
    assert (p.replicas, p.gpus) == (5, 12)
    assert p.busy_gpus == pytest.approx(10 / 3 * 2, rel=1e-12)
    assert (p.role, p.tp, p.replica_requests_per_s) == ("aggregated", 2, 3.0)
    assert gpus_by_region(pool(), 10.0, shape) == [8, 4]
    # a peak of exactly whole replicas takes no extra one: 12 / 3 = 4
    assert fleet_pool(pool(), 12.0, FleetShape()).replicas == 4
    assert gpus_by_region(pool(), 12.0, FleetShape()) == [8]
    assert fleet_pool(pool(), 12.1, FleetShape()).replicas == 5
    assert gpus_by_region(pool(), 12.1, FleetShape()) == [10]
    # under one request/s still takes a replica
    assert fleet_pool(pool(), 0.5, FleetShape()).replicas == 1
    assert gpus_by_region(pool(), 0.5, FleetShape()) == [2]


def test_no_demand_no_pool_and_empty_pools():
    assert fleet_pool(None, 10.0, FleetShape()) is None
    empty = pool(role="decode", replicas=0, gpus=0)
    assert fleet_pool(empty, 10.0, FleetShape()) is empty
    assert gpus_by_region(None, 10.0, FleetShape(region_shares=(0.5, 0.5))) == [0, 0]
    assert gpus_by_region(empty, 10.0, FleetShape()) == [0]
    z = fleet_pool(pool(), 0.0, FleetShape())
    assert (z.replicas, z.gpus, z.busy_gpus) == (0, 0, 0.0)
    assert gpus_by_region(pool(), 0.0, FleetShape()) == [0]


def _serving(agg, pre, dec, disaggregated=False):
    return Serving(agg, pre, dec, 0.0, 0.0, disaggregated, {})


def test_the_choice_is_made_again_on_the_resized_pools():
    """At 6 requests/s: aggregated 2 replicas × 2 GPUs = 4; prefill (1 GPU, 6/s) 1 + decode (1 GPU, 2/s) 3 = 4 GPUs,
    not fewer: aggregated. With decode replicas of 3/s: 1 + 2 = 3 < 4 GPUs: disaggregated."""
    agg = pool(tp=2, rate=3.0)
    pre = pool(role="prefill", tp=1, rate=6.0, gpus=5)    # sized before: resized to 1
    dec = pool(role="decode", tp=1, rate=2.0, gpus=1)
    s = fleet_serving(_serving(agg, pre, dec), 6.0, FleetShape())
    assert (s.aggregated.gpus, s.prefill.gpus, s.decode.gpus, s.disaggregated) == (4, 1, 3, False)
    fast = pool(role="decode", tp=1, rate=3.0, gpus=1)
    s = fleet_serving(_serving(agg, pre, fast), 6.0, FleetShape())
    assert (s.prefill.gpus + s.decode.gpus, s.disaggregated) == (3, True)
    # no aggregated pool: disaggregated whenever both pools exist; no prefill pool: aggregated
    assert fleet_serving(_serving(None, pre, dec), 6.0, FleetShape()).disaggregated is True
    assert fleet_serving(_serving(agg, None, dec), 6.0, FleetShape()).disaggregated is False
    assert fleet_serving(_serving(agg, pre, None), 6.0, FleetShape()).disaggregated is False
    # a mode given is kept, whatever the GPUs
    assert fleet_serving(_serving(agg, pre, fast), 6.0, FleetShape(), mode="aggregated").disaggregated is False
    assert fleet_serving(_serving(agg, pre, dec), 6.0, FleetShape(), mode="disaggregated").disaggregated is True
    assert fleet_serving(_serving(agg, pre, dec, True), 6.0, FleetShape()).transfer_s == 0.0


def test_nodes_per_region():
    """Regions of 8, 9 and 16 GPUs on nodes of 8: 1 + 2 + 2 = 5 nodes; a bare count works too."""
    assert nodes_of([8, 9, 16], 8) == 5
    assert nodes_of(17, 8) == 3
    assert nodes_of([0, 1], 8) == 1
    assert isinstance(nodes_of([8.0], 8), int)
