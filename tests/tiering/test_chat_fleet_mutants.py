"""model.tiering.chat_fleet by hand, on stand-in fleets: the simulator, the replay, the stack-distance sizing,
the prices and the config are replaced by small hand-made objects whose figures tell apart every scale, routing
policy and sampled or full run, so that each table's rows are worked out here; the nodes of a fleet, and every
refusal of the chapter's parameters under its own name."""
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose

import model.tiering.chat_fleet as cf
from model.checks import ParameterError
from model.tiering.chat_fleet import chat_fleet_tables, check_chat_fleet, fleet_nodes, scale_check_table
from model.workload.chat import CharacterChatParams

ROUTES = "round-robin, session, prefix, global"
GROUPS = ["shared_persona", "persona_popular", "persona_tail", "history"]


def test_the_nodes_of_a_fleet():
    """One node per 100 sessions, rounded up, at least one; the pool's nodes when they divide the fleet."""
    assert fleet_nodes(250, 100, 3) == (3, 3)
    assert fleet_nodes(400, 100, 2) == (4, 2)
    assert fleet_nodes(401, 100, 5) == (5, 5)
    assert fleet_nodes(600, 100, 4) == (6, 6)
    assert fleet_nodes(1, 100, 1) == (1, 1)
    assert fleet_nodes(0.5, 100, 1) == (1, 1)


# --- stand-ins -----------------------------------------------------------------------------------------------

class Trace:
    def __init__(self, need, ideal, group, served):
        self.need, self.ideal = need, ideal
        self.block_group, self.served = np.array(group), np.array(served)
        self.group_names = GROUPS


class Result:
    def __init__(self, summary, traces=None, truncated=()):
        self._summary, self.traces, self.traces_truncated = summary, traces or {}, list(truncated)

    def summary(self):
        return dict(self._summary)


def _summary(base, units, nodes):
    """A run's figures, all derived from ``base`` so that each run's are its own."""
    return {"simulated_units": units, "simulated_nodes": nodes, "hit_ratio": base, "hit_ratio_low": base - 0.01,
            "hit_ratio_high": base + 0.02, "hit_ratio_hbm": base / 2, "hit_ratio_dram": base / 4,
            "hit_ratio_ssd": base / 8, "prefill_tokens_saved_share": base / 3, "request_imbalance": 1 + base,
            "input_tokens_per_request": 1000 * base, "recomputed_tokens_per_request": 100 * base,
            "gpus_saved": 10 * base, "gpus": 20 * base}


CFG = SimpleNamespace(capacities=(100.0, 400.0, 1000.0), block_bytes=2e6,
                      tiers=[SimpleNamespace(name=n, capacity_blocks=c) for n, c in
                             (("hbm", 100.0), ("dram", 400.0), ("ssd", 1000.0))],
                      engine=SimpleNamespace(gpu_usd_per_hour=2.0))


def _gpus(summary, params, cfg, key):
    assert isinstance(params, CharacterChatParams) and cfg is CFG
    return summary[key]


class Stand:
    """Records every call of the stand-ins."""

    def __init__(self, monkeypatch, traces):
        self.calls, self.replayed, self.sized, self.configs = [], [], [], []
        self.traces = traces
        CFG.with_capacities = lambda **caps: caps
        monkeypatch.setattr(cf, "default_config", lambda **kw: self.configs.append(kw) or CFG)
        monkeypatch.setattr(cf, "simulate_chat_fleets", self.simulate)
        monkeypatch.setattr(cf, "prefill_gpus_saved", lambda s, params, cfg: _gpus(s, params, cfg, "gpus_saved"))
        monkeypatch.setattr(cf, "prefill_gpus", lambda s, params, cfg: _gpus(s, params, cfg, "gpus"))
        monkeypatch.setattr(cf, "capacity_for_hit_share", lambda t, share: self.sized.append(share) or t.need)
        monkeypatch.setattr(cf, "ideal_hit_ratio", lambda t: t.ideal)
        monkeypatch.setattr(cf, "replay", lambda t, cfg: self.replayed.append(cfg) or SimpleNamespace(
            served_tier=t.served))
        monkeypatch.setattr(cf, "storage_cost_per_hour", lambda cfg: {"hbm": 0.0, "dram": 1.5, "ssd": 0.5}
                            if cfg is CFG else None)
        monkeypatch.setattr(cf, "hours_per_month", lambda: 700.0)

    def simulate(self, params, cfg, n_nodes, routes, **kw):
        assert cfg is CFG
        sessions = params.concurrent_sessions
        self.calls.append((sessions, params.history_window_tokens, params.memory_tokens, n_nodes, list(routes), kw))
        sampled = "sample_nodes" in kw
        l8 = params.history_window_tokens != 10_000
        out = {}
        for i, r in enumerate(routes):
            base = sessions / 10_000 + 0.01 * i + (0.001 if sampled else 0) + (0.3 if l8 else 0)
            traces = self.traces.get((sessions, r)) if sampled and "keep_units" in kw else None
            out[r] = Result(_summary(base, units=2 + i, nodes=3 + i), traces,
                            truncated=[1] if (sessions, r) == (3000, "session") else [])
        return out


def _traces():
    # 3,000 sessions, session routing: two units kept, the first (unit 0) analysed: 250 blocks for the target
    # (150 beyond the 100 of HBM, all in DRAM); 10 sessions, session routing: 50 blocks (none beyond HBM);
    # 10 sessions, global over a pool of 10 nodes: 6,000 blocks / 10 = 600 a node (500 beyond: 400 DRAM, 100 SSD)
    a = Trace(250.0, 0.8, [0, 1, 1, 2, 3, 3, 3, 0], [0, 1, -1, -1, 2, -1, 0, 1])
    b = Trace(1e9, 0.1, [0], [-1])
    c = Trace(50.0, 0.4, [3, 3], [-1, 0])                                  # history only
    d = Trace(6000.0, 0.9, [0, 2, 2, 2], [1, 0, -1, 2])
    return {(3000, "session"): {1: b, 0: a}, (10, "session"): {0: c}, (10, "global"): {0: d}}


ARGS = dict(sessions_scales=[3000, 10], full_scales=[10], sessions_per_node=1, sample_nodes=2, pool_nodes=4,
            prefix_blocks=3, hit_share_target=0.8, routes=["global", "session"], model="m", gpu="g", seed=7,
            l8_history_tokens=500, l8_memory_tokens=60, workers=2, scheduler="tcp://s")


@pytest.fixture
def tables(monkeypatch):
    stand = Stand(monkeypatch, _traces())
    return stand, chat_fleet_tables(**ARGS)


def test_the_runs_made(tables):
    """3,000 sessions on 3,000 nodes of 1, pools of 4; 10 sessions on 10 nodes, whose pool is the fleet (4 does
    not divide 10), also simulated in full; then §8's two layouts at the first scale."""
    stand, _ = tables
    assert stand.configs == [{"model": "m", "gpu": "g", "n_instances": 1}]
    common = {"seed": 7, "workers": 2, "scheduler": "tcp://s", "prefix_blocks": 3}
    routes = ["global", "session"]
    assert stand.calls == [
        (3000, 10_000, 0, 3000, routes, {"sample_nodes": 2, "pool_nodes": 4, "keep_units": 1, **common}),
        (10, 10_000, 0, 10, routes, {"sample_nodes": 2, "pool_nodes": 10, "keep_units": 1, **common}),
        (10, 10_000, 0, 10, routes, common),
        (3000, 10_000, 0, 3000, routes, {"sample_nodes": 2, "pool_nodes": 4, **common}),
        (3000, 500, 60, 3000, routes, {"sample_nodes": 2, "pool_nodes": 4, **common})]
    assert stand.sized == [0.8, 0.8, 0.8]
    # each unit replayed with its tiers times the nodes it pools: 1 node, the pool of 10, 1 node
    one = {"hbm": 100.0, "dram": 400.0, "ssd": 1000.0}
    assert stand.replayed == [one, {"hbm": 1000.0, "dram": 4000.0, "ssd": 10000.0}, one]


def test_the_chat_table(tables):
    """Sampled at 3,000 sessions (base 0.3 + 0.01 a route + 0.001), in full at 10 (base 0.001 + 0.01 a route)."""
    _, t = tables
    c = t["chat"]
    assert list(c.columns) == ["sessions", "nodes", "route", "simulated", "hit_ratio", "hit_ratio_low",
                               "hit_ratio_high", "hbm", "dram", "ssd", "saved", "request_imbalance",
                               "prefill_gpus_saved"]
    assert c["sessions"].tolist() == [3000, 3000, 10, 10] and c["nodes"].tolist() == [3000, 3000, 10, 10]
    assert c["route"].tolist() == ["global", "session", "global", "session"]
    assert c["simulated"].tolist() == ["2 of 750 pools", "4 of 3,000 nodes", "all", "all"]
    base = np.array([0.301, 0.311, 0.001, 0.011])
    assert_allclose(c["hit_ratio"], base, rtol=1e-12)
    assert_allclose(c["hit_ratio_low"], base - 0.01, rtol=1e-12)
    assert_allclose(c["hit_ratio_high"], base + 0.02, rtol=1e-12)
    assert_allclose(c[["hbm", "dram", "ssd"]].to_numpy(), np.c_[base / 2, base / 4, base / 8], rtol=1e-12)
    assert_allclose(c["saved"], base / 3, rtol=1e-12)
    assert_allclose(c["request_imbalance"], 1 + base, rtol=1e-12)
    assert_allclose(c["prefill_gpus_saved"], 10 * base, rtol=1e-12)


def test_the_need_persona_and_analysed_tables(tables):
    """1 block = 2 MB; a node's storage 2 USD/h -> 1,400 USD/month; a GPU 2 USD/h -> 1,400 USD/month. The
    global route at 3,000 sessions kept no trace: left out."""
    _, t = tables
    n = t["need"]
    assert n["sessions"].tolist() == [3000, 10, 10] and n["route"].tolist() == ["session", "global", "session"]
    assert_allclose(n["ideal"], [0.8, 0.9, 0.4], rtol=1e-12)
    assert_allclose(n["need_gb"], [250 * 0.002, 600 * 0.002, 50 * 0.002], rtol=1e-12)
    assert_allclose(n["dram_gb"], [150 * 0.002, 400 * 0.002, 0.0], rtol=1e-12, atol=1e-15)
    assert_allclose(n["ssd_gb"], [0.0, 100 * 0.002, 0.0], rtol=1e-12, atol=1e-15)
    gpus = np.array([10 * 0.311, 10 * 0.001, 10 * 0.011])         # sampled at 3,000, full at 10
    assert_allclose(n["gpus_saved"], gpus, rtol=1e-12)
    assert_allclose(n["gpu_usd_month"], gpus * 2 * 700, rtol=1e-12)
    storage = np.array([3000, 10, 10]) * 2.0 * 700
    assert_allclose(n["storage_usd_month"], storage, rtol=1e-12)
    assert_allclose(n["net_usd_month"], gpus * 1400 - storage, rtol=1e-12)
    p = t["persona"]
    assert list(p.columns) == ["sessions", "route", "persona_popular", "persona_tail", "persona_all", "history"]
    # trace a: popular [1, -1] -> 1/2, tail [-1] -> 0, personas [0, 1, -1, -1, 1] -> 3/5, history [2, -1, 0] -> 2/3
    # trace d: no popular, tail [0, -1, 2] -> 2/3, personas [1, 0, -1, 2] -> 3/4, no history
    # trace c: history [-1, 0] -> 1/2, no persona
    assert_allclose(p[["persona_popular", "persona_tail", "persona_all", "history"]].to_numpy(),
                    [[0.5, 0.0, 0.6, 2 / 3], [np.nan, 2 / 3, 0.75, np.nan], [np.nan, np.nan, np.nan, 0.5]],
                    rtol=1e-12)
    a = t["analysed"]
    assert a.to_dict("records") == [{"sessions": 3000, "route": "session", "truncated": True},
                                    {"sessions": 10, "route": "global", "truncated": False},
                                    {"sessions": 10, "route": "session", "truncated": False}]
    assert type(a["truncated"][0]) in (bool, np.bool_)


def test_the_l8_and_check_tables(tables):
    _, t = tables
    l8 = t["l8"]
    assert list(l8.columns) == ["layout", "route", "input", "computed", "hit_ratio", "prefill_gpus"]
    assert l8["layout"].tolist() == ["history window"] * 2 + ["§8 tiered memory"] * 2
    assert l8["route"].tolist() == ["global", "session"] * 2
    base = np.array([0.301, 0.311, 0.601, 0.611])
    assert_allclose(l8[["input", "computed", "hit_ratio", "prefill_gpus"]].to_numpy(),
                    np.c_[1000 * base, 100 * base, base, 20 * base], rtol=1e-12)
    c = t["check"]
    assert list(c.columns) == ["sessions", "route", "units", "full", "sampled", "low", "high", "diff_points",
                               "covered"]
    assert c["sessions"].tolist() == [10, 10] and c["route"].tolist() == ["global", "session"]
    assert c["units"].tolist() == ["2 pools of 10", "4 nodes"]
    assert_allclose(c["full"], [0.001, 0.011], rtol=1e-12)
    assert_allclose(c["sampled"], [0.002, 0.012], rtol=1e-12)
    assert_allclose(c[["low", "high"]].to_numpy(), [[-0.008, 0.022], [0.002, 0.032]], rtol=1e-12)
    assert_allclose(c["diff_points"], [0.1, 0.1], rtol=1e-9)
    assert c["covered"].tolist() == [True, True]


@pytest.mark.parametrize("full, low, high, covered", [
    (0.1, 0.1 + 5e-13, 0.3, True), (0.1, 0.0, 0.1 - 5e-13, True), (0.1, 0.1 + 2e-12, 0.3, False),
    (0.1, 0.0, 0.1 - 2e-12, False), (1.0 - 1e-12, 1.0, 1.0, True), (1e-12, 0.0, 0.0, True)])
def test_a_full_value_on_the_interval_s_edge_is_covered(monkeypatch, full, low, high, covered):
    """Within 1e-12 of an end of the sampled interval (the ends included), the full fleet's value counts as
    covered."""
    full = Result({"hit_ratio": full})
    sampled = Result({"hit_ratio": 0.2, "hit_ratio_low": low, "hit_ratio_high": high, "simulated_nodes": 2})
    t = cf._check_table({5: (None, 3, 1, {"session": sampled}, {"session": full}),
                         6: (None, 3, 1, {"session": sampled}, None)}, ["session"])
    assert t["covered"].tolist() == [covered] and t["sessions"].tolist() == [5]
    empty = cf._check_table({6: (None, 3, 1, {}, None)}, ["session"])
    assert empty.empty and list(empty.columns) == ["sessions", "route", "units", "full", "sampled", "low", "high",
                                                   "diff_points", "covered"]


def test_scale_check_table(monkeypatch):
    """Each route simulated alone, in full and sampled (pools only under global); covered without slack."""
    calls, configs = [], []
    summaries = {True: {"hit_ratio": 0.5, "hit_ratio_low": 0.5, "hit_ratio_high": 0.5, "simulated_units": 3},
                 False: {"hit_ratio": 0.5, "simulated_units": 9}}

    def simulate(params, cfg, n, routes, **kw):
        assert cfg is CFG
        calls.append((params.concurrent_sessions, n, list(routes), kw))
        s = dict(summaries["sample_nodes" in kw])
        if routes == ["session"] and "sample_nodes" in kw:
            s["hit_ratio_high"] = 0.5 - 1e-13
        return {routes[0]: Result(s)}

    monkeypatch.setattr(cf, "default_config", lambda **kw: configs.append(kw) or CFG)
    monkeypatch.setattr(cf, "simulate_chat_fleets", simulate)
    out = scale_check_table(sessions=12, sessions_per_node=2, sample_nodes=2, pool_nodes=3, prefix_blocks=2,
                            routes=["global", "session"], model="m", gpu="g", seed=5, scheduler="tcp://x")
    assert configs == [{"model": "m", "gpu": "g", "n_instances": 1}]
    common = {"seed": 5, "workers": 1, "scheduler": "tcp://x", "prefix_blocks": 2}
    assert calls == [(12, 6, ["global"], common), (12, 6, ["global"], {"sample_nodes": 2, "pool_nodes": 3, **common}),
                     (12, 6, ["session"], common),
                     (12, 6, ["session"], {"sample_nodes": 2, "pool_nodes": None, **common})]
    assert out["check"].to_dict("records") == [
        {"sessions": 12, "nodes": 6, "route": "global", "full_hit_ratio": 0.5, "sampled_hit_ratio": 0.5,
         "sampled_low": 0.5, "sampled_high": 0.5, "covered": True, "sampled_units": 3},
        {"sessions": 12, "nodes": 6, "route": "session", "full_hit_ratio": 0.5, "sampled_hit_ratio": 0.5,
         "sampled_low": 0.5, "sampled_high": 0.5 - 1e-13, "covered": False, "sampled_units": 3}]
    with pytest.raises(ParameterError) as e:
        scale_check_table(sessions=12, sessions_per_node=2, sample_nodes=2, pool_nodes=3, prefix_blocks=2,
                          routes=["session", "random"], model="m", gpu="g", seed=5)
    assert str(e.value) == f"routes='random' is not allowed: routes must be one of {_quoted(ROUTES)}"


def _quoted(names):
    return ", ".join(repr(n) for n in names.split(", "))


# --- refusals ------------------------------------------------------------------------------------------------

GOOD = dict(sessions_scales=[1000, 100], full_scales=[100], sessions_per_node=100, sample_nodes=2, pool_nodes=1,
            prefix_blocks=1, hit_share_target=1.0, routes=["session"], l8_history_tokens=50, l8_memory_tokens=0)


def test_good_parameters_pass():
    assert check_chat_fleet(**GOOD) is None
    assert check_chat_fleet(**{**GOOD, "full_scales": []}) is None


@pytest.mark.parametrize("name, value, shown, allowed", [
    ("routes", [], [], f"a non-empty list of {ROUTES}"),
    ("routes", ["session", "random"], "random", f"one of {_quoted(ROUTES)}"),
    ("sessions_scales", [], [], "a non-empty list of session counts"),
    ("sessions_scales", [1000, 0], 0, "a finite number in (0, inf]"),
    ("full_scales", [100, 10], 10, "scales listed in sessions_scales"),
    ("sessions_per_node", 0, 0, "an integer in [1, inf]"),
    ("sample_nodes", 1, 1, "an integer in [2, inf]"),
    ("pool_nodes", 0, 0, "an integer in [1, inf]"),
    ("prefix_blocks", 0, 0, "an integer in [1, inf]"),
    ("hit_share_target", 0.0, 0.0, None),
    ("hit_share_target", 1.5, 1.5, None),
    ("l8_history_tokens", 0, 0, "an integer in [1, inf]"),
    ("l8_history_tokens", 49, 49, "an integer in [50, inf]"),
    ("l8_history_tokens", 3_000_000, 3_000_000,
     "small enough for a prompt of fewer than 4096 blocks of 512 tokens"),
    ("l8_memory_tokens", -1, -1, "an integer in [0, inf]"),
    # 2,000 persona + 2,000,000 history + 200,000 memory + 50 tokens: 4,301 blocks of 512 (4,096 or more); the
    # history alone 3,911
    ("l8_history_tokens", 2_000_000, 2_000_000, "small enough for a prompt of fewer than 4096 blocks of 512 tokens"),
])
def test_each_parameter_refused_under_its_name(name, value, shown, allowed):
    args = {**GOOD, name: value}
    if value == 2_000_000:
        assert check_chat_fleet(**args) is None
        args["l8_memory_tokens"] = 200_000
    with pytest.raises(ParameterError) as e:
        check_chat_fleet(**args)
    assert e.value.name == name and "\n" not in str(e.value)
    assert str(e.value).startswith(f"{name}={shown!r} is not allowed: {name} must be ")
    if allowed is not None:
        assert str(e.value).endswith(f"must be {allowed}")
    assert e.value.__cause__ is None


def test_no_trace_kept_and_the_default_workers(monkeypatch):
    """Routes that kept no trace leave the need, persona and analysed tables empty (the analysed one with its
    columns); without workers or scheduler, one local process."""
    stand = Stand(monkeypatch, {})
    args = {k: v for k, v in ARGS.items() if k not in ("workers", "scheduler")}
    t = chat_fleet_tables(**{**args, "sessions_scales": [10], "full_scales": []})
    assert t["need"].empty and t["persona"].empty and t["analysed"].empty
    assert list(t["analysed"].columns) == ["sessions", "route", "truncated"]
    assert {(c[5]["workers"], c[5]["scheduler"]) for c in stand.calls} == {(1, None)}


def test_both_layout_figures_bad_names_the_memory_first():
    """A history under a turn (10 < 50 tokens) and a negative memory: the memory is checked first."""
    with pytest.raises(ParameterError, match=r"^l8_memory_tokens=-1 is not allowed: l8_memory_tokens must be an "
                                             r"integer in \[0, inf\]$"):
        check_chat_fleet(**{**GOOD, "l8_history_tokens": 10, "l8_memory_tokens": -1})
