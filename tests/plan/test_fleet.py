"""The fleet around the pools (model.plan.fleet) and the planner's inputs for it: --peak-to-mean,
--spare-fraction, --regions, --region-shares, and the end-to-end target --e2e-p95-s."""
import json
import math
from dataclasses import replace

import pytest

from model.checks import ParameterError
from model.plan.cli import main
from model.plan.compose import CONTRACT, make_plan
from model.plan.fleet import FleetShape, equal_shares, region_shares_from
from model.plan.inputs import PlanInputs
from model.plan.serving import e2e_splits

BASE = PlanInputs(sessions=20_000, spare_fraction=0.0)


def run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def bare():
    """20,000 sessions of the case study's shape, no spares, no peak, one region."""
    return make_plan(BASE)


def test_spares_round_up_each_pool(bare):
    """10% spares: each pool ⌈GPUs × 1.1⌉ (the fleet chapter's split_fleet on one region), same replicas; the
    GPUs' compute power and the tokens do not change, only the idle spares' share of the other parts."""
    p = make_plan(replace(BASE, spare_fraction=0.1))
    roles = ("prefill", "decode") if bare["disaggregated"] else ("aggregated",)
    assert p["disaggregated"] == bare["disaggregated"]
    for r in roles:
        assert p["serving"][r]["gpus"] == math.ceil(bare["serving"][r]["gpus"] * 1.1 - 1e-9)
        assert p["serving"][r]["replicas"] == bare["serving"][r]["replicas"]
    assert p["fleet"]["spare_gpus"] == p["gpus"] - bare["gpus"] > 0
    assert p["energy"]["gpu_kw"] == pytest.approx(bare["energy"]["gpu_kw"], rel=1e-12)
    assert p["usd_per_month"] / bare["usd_per_month"] == pytest.approx(p["gpus"] / bare["gpus"], rel=1e-12)
    assert set(CONTRACT) <= set(p)


def test_a_peak_sizes_replicas_at_the_peak_and_prices_tokens_at_the_mean(bare):
    """peak_to_mean 2: each pool's replicas = ⌈2λ / its replica's rate⌉; the busy GPUs and the tokens stay at λ,
    so the GPUs' compute power is unchanged and the price per token rises with the GPUs."""
    p = make_plan(replace(BASE, peak_to_mean=2.0))
    lam = bare["inputs"]["demand_requests_per_s"]
    for r in ("prefill", "decode") if p["disaggregated"] else ("aggregated",):
        pool = p["serving"][r]
        assert pool["replicas"] == math.ceil(2 * lam / pool["replica_requests_per_s"] - 1e-9)
        assert pool["busy_gpus"] == pytest.approx(lam / pool["replica_requests_per_s"] * pool["tp"], rel=1e-12)
    assert p["cost"]["tokens_per_month"] == bare["cost"]["tokens_per_month"]
    assert p["energy"]["gpu_kw"] == pytest.approx(bare["energy"]["gpu_kw"], rel=1e-9)
    assert 1.9 * bare["gpus"] <= p["gpus"] <= 2.0 * bare["gpus"] + 8


def test_regions_split_each_pool_and_round_up_apart(bare):
    """Three equal regions, 10% spares: each pool ⌈GPUs / 3 × 1.1⌉ in every region; shares 0.5/0.3/0.2 likewise."""
    p = make_plan(replace(BASE, regions=3, spare_fraction=0.1))
    for role, g in p["fleet"]["gpus_by_region"].items():
        assert g == [math.ceil(bare["serving"][role]["gpus"] / 3 * 1.1 - 1e-9)] * 3
    assert p["gpus"] == sum(sum(g) for g in p["fleet"]["gpus_by_region"].values())
    assert p["cost"]["by_item_usd_per_month"]["regions"] == 0.0     # econ_region_fixed_usd_per_month: none cited
    q = make_plan(replace(BASE, regions=3, region_shares=(0.5, 0.3, 0.2)))
    for role, g in q["fleet"]["gpus_by_region"].items():
        assert g == [math.ceil(bare["serving"][role]["gpus"] * s - 1e-9) for s in (0.5, 0.3, 0.2)]


def test_shapes_are_checked():
    assert equal_shares(4) == (0.25,) * 4
    assert region_shares_from(None, None) == (1.0,)
    with pytest.raises(ParameterError, match="^peak_to_mean="):
        FleetShape(peak_to_mean=0.5)
    with pytest.raises(ParameterError, match="^region_shares="):
        region_shares_from(2, [0.5, 0.3, 0.2])
    with pytest.raises(ParameterError, match="^regions="):
        equal_shares(0)


def test_e2e_splits_by_hand():
    """Floors 0.2 s and 0.02 s, 101-token reply: floor 0.2 + 100 × 0.02 = 2.2 s; at 4.2 s the 2 s of slack is
    shared in thirds at two points: TTFT 0.2 + 2/3 = 0.8667 s with TPOT 0.02 + (4/3)/100, and TTFT 1.5333 s with
    TPOT 0.02 + (2/3)/100; each sums back to 4.2 s."""
    splits = e2e_splits(4.2, ttft_floor_s=0.2, tpot_floor_s=0.02, reply_tokens=101, points=2)
    want = [(0.2 + 2 / 3, 0.02 + 4 / 300), (0.2 + 4 / 3, 0.02 + 2 / 300)]
    assert len(splits) == 2
    for got, w in zip(splits, want):
        assert list(got) == pytest.approx(list(w), rel=1e-12)
    for ttft, tpot in splits:
        assert ttft + 100 * tpot == pytest.approx(4.2, rel=1e-12)
    assert e2e_splits(1.0, ttft_floor_s=0.2, tpot_floor_s=0.02, reply_tokens=1, points=5) == [(1.0, 1.0)]
    with pytest.raises(ParameterError, match=r"^e2e_p95_s=2\.2 .*> 2\.2 s, the zero-load floor"):
        e2e_splits(2.2, ttft_floor_s=0.2, tpot_floor_s=0.02, reply_tokens=101, points=2)


@pytest.mark.slow
def test_e2e_target_takes_the_cheapest_split(capsys):
    """--e2e-p95-s 12: the plan's TTFT and TPOT targets add up to 12 s over the reply, and no split of the nine
    planned afresh with --ttft-p95-s/--tpot-p95-s needs fewer GPUs."""
    from model.parameters import default

    rc, out, err = run(["--sessions", "20000", "--e2e-p95-s", "12", "--json"], capsys)
    assert rc == 0 and err == ""
    plan = json.loads(out)
    split = plan["serving"]["e2e_split"]
    assert split["ttft_p95_s"] + 99 * split["tpot_p95_s"] == pytest.approx(12.0, rel=1e-12)
    assert split["splits_tried"] == default("plan_e2e_split_points")
    assert (plan["inputs"]["ttft_p95_s"], plan["inputs"]["tpot_p95_s"]) == (split["ttft_p95_s"], split["tpot_p95_s"])
    floors = plan["serving"]["zero_load_floor"]
    for ttft, tpot in e2e_splits(12.0, ttft_floor_s=floors["ttft_p95_s"], tpot_floor_s=floors["tpot_p95_s"],
                                 reply_tokens=100, points=int(split["splits_tried"])):
        try:
            other = make_plan(replace(PlanInputs(sessions=20_000), ttft_p95_s=ttft, tpot_p95_s=tpot))
        except ParameterError:
            continue
        assert plan["gpus"] <= other["gpus"]


@pytest.mark.parametrize("argv, flag", [
    (["--e2e-p95-s", "0.5"], "--e2e-p95-s"), (["--e2e-p95-s", "10", "--ttft-p95-s", "3"], "--e2e-p95-s"),
    (["--e2e-p95-s", "-1"], "--e2e-p95-s"), (["--peak-to-mean", "0.5"], "--peak-to-mean"),
    (["--spare-fraction", "-0.1"], "--spare-fraction"), (["--regions", "0"], "--regions"),
    (["--regions", "2", "--region-shares", "0.5,0.3,0.2"], "--region-shares"),
    (["--region-shares", "0.5,0.6"], "--region-shares"), (["--region-shares", "a,b"], "--region-shares"),
    (["--region-shares", "1.5,-0.5"], "--region-shares"),
])
def test_bad_fleet_flags_give_one_line_naming_the_flag(argv, flag, capsys):
    rc, out, err = run(["--sessions", "20000"] + argv, capsys)
    assert rc == 2 and out == ""
    assert err.startswith(f"error: {flag}=") and err.count("\n") == 1, err


def test_an_e2e_target_with_a_ttft_target_in_a_file_is_refused(tmp_path, capsys):
    path = tmp_path / "service.yaml"
    path.write_text("sessions: 20000\ne2e_p95_s: 12\nttft_p95_s: 3\n")
    rc, out, err = run(["--input", str(path)], capsys)
    assert rc == 2 and err.startswith("error: --e2e-p95-s=12") and err.count("\n") == 1


def test_an_e2e_target_below_the_floor_gives_the_floor(capsys):
    rc, out, err = run(["--sessions", "20000", "--e2e-p95-s", "1"], capsys)
    assert rc == 2 and "zero-load floor" in err and err.count("\n") == 1
    floor = float(err.split("> ")[1].split(" s")[0])
    assert 1.0 < floor < 12.0


def test_html_report_with_charts_is_written_whole(tmp_path, capsys):
    """--html writes one page holding the report and its two charts as inline SVG, loading nothing (no address
    but the SVG namespaces); a file that cannot be written is one line naming --html and leaves nothing."""
    import re

    path = tmp_path / "plan.html"
    rc, out, err = run(["--sessions", "20000", "--regions", "2", "--html", str(path)], capsys)
    assert rc == 0 and out.startswith("# Plan:")
    page = path.read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "<table>" in page and "GPUs" in page
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg",
                                                              "http://www.w3.org/1999/xlink"}
    assert [p.name for p in tmp_path.iterdir()] == ["plan.html"]        # no temporary file left beside it
    (tmp_path / "a-file").write_text("")
    bad = tmp_path / "a-file" / "plan.html"
    rc, out, err = run(["--sessions", "20000", "--html", str(bad)], capsys)
    assert rc == 2 and err.startswith("error: --html=") and err.count("\n") == 1 and not bad.exists()
