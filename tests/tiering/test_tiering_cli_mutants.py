"""model.tiering.cli by hand (``python -m model.tiering replay``), in-process and without a replay: the --tiers
grammar, the HBM budget of a node worked out from Llama 2 70B's weights and KV on A100s, each flag's check and its
one-line error, and the text printed for people from made-up results (each rounding written out here)."""
import math
from argparse import Namespace
from types import SimpleNamespace

import pandas as pd
import pytest

from model.checks import ParameterError
from model.tiering import cli

# Llama 2 70B on 4 x A100 80GB: 0.9 x 4 x 80 GiB = 309.24 GB usable, minus 137.95 GB of fp16 weights = 171.28 GB of
# KV; a block of 512 tokens x 327,680 B (K and V x 80 layers x 8 heads x 128 x 2 B) = 167.77 MB: 1,020 blocks
BLOCK_BYTES = 512 * 2 * 80 * 8 * 128 * 2
BUDGET_BLOCKS = int((0.9 * 4 * 80 * 2**30 - 2 * 68_976_648_192) // BLOCK_BYTES)


def refused(fn, *a, **kw) -> str:
    with pytest.raises(ParameterError) as e:
        fn(*a, **kw)
    return str(e.value)


# --- --tiers ---------------------------------------------------------------------------------------------------------
def test_parse_tiers():
    assert cli.parse_tiers("hbm=100,dram=1000,ssd=inf") == [("hbm", 100), ("dram", 1000), ("ssd", math.inf)]
    assert cli.parse_tiers(" hbm = 0 , ssd = Infinite") == [("hbm", 0), ("ssd", math.inf)]
    assert cli.parse_tiers("hbm=inf,dram=5") == [("hbm", math.inf), ("dram", 5)]
    assert cli.parse_tiers("dram=7") == [("dram", 7)] and cli.parse_tiers("ssd=INF") == [("ssd", math.inf)]
    assert refused(cli.parse_tiers, "hbm=5=6") == ("--tiers='hbm=5=6' is not allowed: --tiers must be a whole number "
                                                   "of blocks >= 0 (or inf) for every tier")
    assert type(cli.parse_tiers("hbm=12")[0][1]) is int


FORMAT = "NAME=BLOCKS pairs separated by commas, top tier first, e.g. hbm=100,dram=1000,ssd=10000"


@pytest.mark.parametrize("spec, line", [
    ("hbm", f"--tiers='hbm' is not allowed: --tiers must be {FORMAT}"),
    ("hbm=1,dram", f"--tiers='hbm=1,dram' is not allowed: --tiers must be {FORMAT}"),
    ("1x=5", "--tiers='1x=5' is not allowed: --tiers must be tier names of letters, digits, - or _ (e.g. hbm, dram, "
             "ssd)"),
    ("hbm=1,d!=5", "--tiers='d!=5' is not allowed: --tiers must be tier names of letters, digits, - or _ (e.g. hbm, "
                   "dram, ssd)"),
    ("=5", "--tiers='=5' is not allowed: --tiers must be tier names of letters, digits, - or _ (e.g. hbm, dram, ssd)"),
    ("hbm=1,hbm=2", "--tiers='hbm=1,hbm=2' is not allowed: --tiers must be each tier once (hbm repeated)"),
    ("hbm=1,nv-me_2=5", "--tiers='nv-me_2=5' is not allowed: --tiers must be tiers named hbm, dram, ssd (bandwidths "
                        "and prices of data/hardware.csv)"),
    ("dram=1,hbm=2", "--tiers='dram=1,hbm=2' is not allowed: --tiers must be tiers from the fastest down, in the order "
                     "hbm, dram, ssd"),
    ("hbm=1,ssd=2,dram=3", "--tiers='hbm=1,ssd=2,dram=3' is not allowed: --tiers must be tiers from the fastest down, "
                           "in the order hbm, dram, ssd"),
    ("hbm=1.5", "--tiers='hbm=1.5' is not allowed: --tiers must be a whole number of blocks >= 0 (or inf) for every "
                "tier"),
    ("hbm=1,dram=-3", "--tiers='dram=-3' is not allowed: --tiers must be a whole number of blocks >= 0 (or inf) for "
                      "every tier"),
    ("hbm=12a", "--tiers='hbm=12a' is not allowed: --tiers must be a whole number of blocks >= 0 (or inf) for every "
                "tier"),
    ("hbm=", "--tiers='hbm=' is not allowed: --tiers must be a whole number of blocks >= 0 (or inf) for every tier"),
])
def test_parse_tiers_errors(spec, line):
    assert refused(cli.parse_tiers, spec) == line


# --- the node's configuration ----------------------------------------------------------------------------------------
def test_one_hbm_tier_and_the_ttl():
    assert BUDGET_BLOCKS == 1020
    c = cli.cli_config(100, None, None, 512)
    assert [(t.name, t.capacity_blocks) for t in c.tiers] == [("hbm", 100)] and c.default_ttl_s == math.inf
    assert c.block_bytes == BLOCK_BYTES
    c = cli.cli_config(None, "hbm=1020,dram=99999,ssd=inf", 30.0, 512)
    assert [(t.name, t.capacity_blocks) for t in c.tiers] == [("hbm", 1020), ("dram", 99999), ("ssd", math.inf)]
    assert c.default_ttl_s == 30.0
    assert [t.name for t in cli.cli_config(math.inf, None, 0.0, 512).tiers] == ["hbm"]
    assert cli.cli_config(math.inf, None, 0.0, 512).default_ttl_s == 0.0
    # the tier keeps its bandwidth and price from data/hardware.csv: host DRAM over PCIe Gen4, $3.093/GB-month
    dram = cli.cli_config(None, "dram=5", None, 512).tiers[0]
    assert dram.name == "dram" and dram.capacity_blocks == 5


def test_the_engine_of_the_node():
    c = cli.cli_config(10, None, None, 256, model="llama-2-13b", gpu="h100-80gb", gpus_per_instance=2, n_instances=3,
                       gpu_usd_per_hour=1.5)
    e = c.engine
    assert (e.n_instances, e.gpus_per_instance) == (3, 2) and c.block_tokens == 256
    assert e.name == "llama-2-13b on 2 x h100-80gb" and e.gpu_usd_per_hour == 1.5
    # Llama 2 13B: K and V x 40 layers x 40 heads x 128 x 2 B = 819,200 B per token
    assert c.block_bytes == 256 * 2 * 40 * 40 * 128 * 2


def test_hbm_beyond_the_kv_budget():
    assert refused(cli.cli_config, 1021, None, None, 512) == (
        "--capacity-blocks=1021 is not allowed: --capacity-blocks must be at most 1,020 blocks of HBM per node (171 GB: "
        "the KV budget of 1 instance(s) x 4 a100-80gb after the weights of llama-2-70b); add --instances or --n-gpus, "
        "or put the rest in dram/ssd")
    assert refused(cli.cli_config, None, "hbm=2041,dram=10", None, 512, n_instances=2) == (
        "--tiers='hbm=2041,dram=10' is not allowed: --tiers must be at most 2,040 blocks of HBM per node (342 GB: the KV "
        "budget of 2 instance(s) x 4 a100-80gb after the weights of llama-2-70b); add --instances or --n-gpus, or put "
        "the rest in dram/ssd")
    assert [t.capacity_blocks for t in cli.cli_config(None, "hbm=2040", None, 512, n_instances=2).tiers] == [2040]


def test_capacity_and_tiers_are_one_or_the_other():
    assert refused(cli.cli_config, 5, "hbm=5", None, 512) == (
        "--capacity-blocks=5 is not allowed: --capacity-blocks must be either --capacity-blocks (one HBM tier) or "
        "--tiers, not both")
    assert refused(cli.cli_config, None, None, None, 512) == (
        "--capacity-blocks=None is not allowed: --capacity-blocks must be given (or --tiers)")
    assert refused(cli.cli_config, None, "", None, 512).startswith("--capacity-blocks=None is not allowed")
    assert [t.capacity_blocks for t in cli.cli_config(0, None, None, 512).tiers] == [0]


# --- the flags -------------------------------------------------------------------------------------------------------
def args(**kw) -> Namespace:
    base = dict(trace="t.jsonl", capacity_blocks=None, tiers=None, ttl=None, block_tokens=None, model="llama-2-70b",
                gpu="a100-80gb", n_gpus=None, instances=1, gpu_usd_per_hour=None, nodes=None, route=None,
                prefix_blocks=None, workers=1, scheduler=None, json=False)
    base.update(kw)
    return Namespace(**base)


def test_check_args_defaults():
    bt, cap, g, price = cli._check_args(args())
    # data/parameters: Mooncake's 512-token blocks, 4 GPUs per instance; AWS p4de on-demand $3.4309 per A100-hour
    assert (bt, cap, g) == (512, None, 4) and price.usd_per_gpu_hour == pytest.approx(27.44705 / 8, abs=1e-4)
    bt, cap, g, price = cli._check_args(args(block_tokens=16, capacity_blocks=100.0, n_gpus=8, gpu_usd_per_hour=2.0))
    assert (bt, cap, g, price.usd_per_gpu_hour) == (16, 100, 8, 2.0) and type(cap) is int
    assert cli._check_args(args(capacity_blocks=math.inf))[1] == math.inf
    assert cli._check_args(args(capacity_blocks=0.0))[1] == 0
    assert cli._check_args(args(block_tokens=1, ttl=0.0, nodes=1, route="prefix", prefix_blocks=1, workers=1))[0] == 1
    assert cli._check_args(args(ttl=math.inf, tiers="hbm=5"))[0] == 512


@pytest.mark.parametrize("kw, line", [
    (dict(block_tokens=0), "--block-tokens=0 is not allowed: --block-tokens must be an integer >= 1"),
    (dict(capacity_blocks=1.5), "--capacity-blocks=1.5 is not allowed: --capacity-blocks must be a whole number of "
                                "blocks >= 0 (or inf)"),
    (dict(capacity_blocks=-1.0), "--capacity-blocks=-1.0 is not allowed: --capacity-blocks must be a whole number of "
                                 "blocks >= 0 (or inf)"),
    (dict(capacity_blocks=-math.inf), "--capacity-blocks=-inf is not allowed: --capacity-blocks must be a whole "
                                      "number of blocks >= 0 (or inf)"),
    (dict(capacity_blocks=math.nan), "--capacity-blocks=nan is not allowed: --capacity-blocks must be a whole number "
                                     "of blocks >= 0 (or inf)"),
    (dict(ttl=-1.0), "--ttl=-1.0 is not allowed: --ttl must be a number of seconds >= 0 (or inf)"),
    (dict(ttl=math.nan), "--ttl=nan is not allowed: --ttl must be a number of seconds >= 0 (or inf)"),
    (dict(tiers="hbm=1,hbm=1"), "--tiers='hbm=1,hbm=1' is not allowed: --tiers must be each tier once (hbm repeated)"),
    (dict(nodes=0), "--nodes=0 is not allowed: --nodes must be an integer >= 1"),
    (dict(route="random"), "--route='random' is not allowed: --route must be one of round-robin, session, prefix, "
                           "global"),
    (dict(prefix_blocks=2), "--prefix-blocks=2 is not allowed: --prefix-blocks must be only with --route prefix"),
    (dict(prefix_blocks=2, route="session"), "--prefix-blocks=2 is not allowed: --prefix-blocks must be only with "
                                             "--route prefix"),
    (dict(prefix_blocks=0, route="prefix"), "--prefix-blocks=0 is not allowed: --prefix-blocks must be an integer "
                                            ">= 1"),
    (dict(workers=0), "--workers=0 is not allowed: --workers must be an integer >= 1"),
    (dict(model="llama-9"), "--model='llama-9' is not allowed: --model must be one of "),
    (dict(gpu="a100"), "--gpu='a100' is not allowed: --gpu must be one of "),
    (dict(n_gpus=0), "--n-gpus=0 is not allowed: --n-gpus must be "),
    (dict(instances=0), "--instances=0 is not allowed: --instances must be "),
    (dict(gpu_usd_per_hour=-1.0), "--gpu-usd-per-hour=-1.0 is not allowed: --gpu-usd-per-hour must be "),
])
def test_check_args_errors(kw, line):
    assert refused(cli._check_args, args(**kw)).startswith(line)


def test_the_names_on_the_command_line():
    assert cli.CLI_NAMES == {"model": "--model", "gpu": "--gpu", "gpus_per_instance": "--n-gpus",
                             "n_instances": "--instances", "gpu_usd_per_hour": "--gpu-usd-per-hour"}
    assert cli.FLEET_CLI_NAMES == {"route": "--route", "nodes": "--nodes", "prefix_blocks": "--prefix-blocks",
                                   "workers": "--workers"}
    assert cli.CLI_TIERS == ("hbm", "dram", "ssd") and cli.SINGLE_KEYS == (
        "recomputed_tokens", "input_tokens", "ttft_p50_s", "ttft_p95_s", "zero_load_ttft_p95_s", "gpu_busy_fraction",
        "throughput_requests_per_s", "cost_usd_per_hour", "usd_per_million_tokens")


HELP = {
    "trace": "Mooncake-format JSONL (timestamp ms, input_length, output_length, hash_ids; session_id optional, needed "
             "by --route session)",
    "--capacity-blocks": "one tier (hbm) of N blocks per node, at most the node's KV budget (inf: unbounded, the ideal "
                         "hit ratio)",
    "--tiers": FORMAT + " (blocks per node)",
    "--ttl": "TTL of every block, seconds (default: none)",
    "--block-tokens": "tokens per hash block (default 512)",
    "--model": "architecture in data/models (default llama-2-70b)",
    "--gpu": "GPU in data/hardware.csv (default a100-80gb)",
    "--n-gpus": "tensor-parallel GPUs per prefill instance (default tiering_gpus_per_instance, 4)",
    "--instances": "prefill instances per node (default 1)",
    "--gpu-usd-per-hour": "price of one GPU-hour, USD (default: the GPU's AWS on-demand row of data/prices)",
    "--nodes": "nodes of the fleet, each with these tiers (default: one cache, no fleet section)",
    "--route": "routing of requests to nodes: round-robin, session, prefix or global (one pool of nodes x each tier; "
               "default round-robin)",
    "--prefix-blocks": "with --route prefix: route by the prompt's Nth block (default 1, the first; the Mooncake "
                       "trace's prompts all start with the same block)",
    "--workers": "local processes replaying nodes in parallel (default 1)",
    "--scheduler": "address of a Dask scheduler to replay the nodes on",
    "--json": "print JSON",
}


def test_the_replay_flags():
    parser = cli._parser()
    assert parser.prog == "python -m model.tiering"
    assert parser.description == "Replay a Mooncake-format trace through a KV-cache hierarchy."
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == ["replay"] and sub.required
    assert [a.help for a in sub._choices_actions] == ["replay a trace and print hit ratios, TTFT and cost"]
    rp = sub.choices["replay"]
    acts = {(a.option_strings or [a.dest])[-1]: a for a in rp._actions if a.dest != "help"}
    assert {k: a.help for k, a in acts.items()} == HELP
    assert {k: a.type for k, a in acts.items() if a.type} == {
        "--capacity-blocks": float, "--ttl": float, "--block-tokens": int, "--n-gpus": int, "--instances": int,
        "--gpu-usd-per-hour": float, "--nodes": int, "--prefix-blocks": int, "--workers": int}
    ns = rp.parse_args(["t.jsonl"])
    assert vars(ns) == {"trace": "t.jsonl", "capacity_blocks": None, "tiers": None, "ttl": None, "block_tokens": None,
                        "model": "llama-2-70b", "gpu": "a100-80gb", "n_gpus": None, "instances": 1,
                        "gpu_usd_per_hour": None, "nodes": None, "route": None, "prefix_blocks": None, "workers": 1,
                        "scheduler": None, "json": False}
    assert rp.parse_args(["t", "--json"]).json is True


# --- output ----------------------------------------------------------------------------------------------------------
def setup(**kw):
    s = {"model": "llama-2-70b", "instances_per_node": 2, "gpus_per_instance": 4, "gpu": "a100-80gb",
         "gpus_per_node": 8, "nodes": 3, "gpus": 24, "gpu_usd_per_hour": 3.430912, "gpu_price_source": "aws on-demand",
         "tiers": {"hbm": {"capacity_blocks_per_node": 1020, "capacity_gb_per_node": 171.13, "read_gb_per_s_per_instance":
                           8156.0, "usd_per_gb_month": 31.31},
                   "ssd": {"capacity_blocks_per_node": None, "capacity_gb_per_node": None,
                           "read_gb_per_s_per_instance": 7.0, "usd_per_gb_month": 0.08123}}}
    s.update(kw)
    return s


def single(**kw):
    out = {"trace": "t.jsonl", "requests": 1234, "lookups": 56789, "setup": setup(), "hit_ratio": 0.4567,
           "tiers": {"hbm": 1020, "ssd": None}, "ttl_s": 600.0, "hit_ratio_hbm": 0.3, "hit_ratio_ssd": 0.1567,
           "prefill_tokens_saved_hbm": 1_500_000, "prefill_tokens_saved_ssd": 250.4, "recomputed_tokens": 98765,
           "input_tokens": 2_000_000, "ttft_p50_s": 0.123, "ttft_p95_s": 2.5, "zero_load_ttft_p95_s": 0.0456,
           "gpu_busy_fraction": 0.5, "throughput_requests_per_s": 12.34, "cost_usd_per_hour": 82.5,
           "usd_per_million_tokens": 1.234}
    out.update(kw)
    return out


def test_the_text_of_a_single_cache():
    assert cli._text(single()).split("\n") == [
        "trace: t.jsonl (1,234 requests, 56,789 block lookups)",
        "serving setup per node: llama-2-70b on 2 instance(s) x 4 a100-80gb = 8 GPUs; fleet: 3 node(s) = 24 GPUs at "
        "$3.431/GPU-hour (aws on-demand)",
        "  tier hbm: 1,020 blocks = 171.1 GB per node, 8,156 GB/s per instance, $31.31/GB-month",
        "  tier ssd: unbounded, 7 GB/s per instance, $0.08123/GB-month",
        "TTL: 600 s on every block",
        "hit ratio: 45.7% of the trace's 56,789 block lookups (hbm 30%, ssd 15.7%)",
        "prompt tokens of the trace: 2,000,000; from cache: hbm 1,500,000, ssd 250; recomputed: 98,765",
        "TTFT per request: P50 123 ms, P95 2.5 s (P95 at zero load: 45.6 ms)",
        "GPUs busy: 50% of the time (mean over all 2 instance(s))",
        "throughput: 12.3 requests/s (all 2 instance(s))",
        "cost: $82.5/h for all 2 instance(s) (GPUs and tier storage); $1.23 per 1M tokens (input + output)"]


def test_busy_gpus_get_a_note_and_no_ttl_says_so():
    lines = cli._text(single(gpu_busy_fraction=0.951, ttl_s=None)).split("\n")
    assert lines[4] == "TTL: none (blocks stay until evicted)"
    assert lines[-1] == "note: the 24 GPUs are busy 95% of the time: TTFT is mostly queueing; add --instances"
    assert cli._text(single(gpu_busy_fraction=0.95)).split("\n")[-1].startswith("cost: ")


def fleet_out(**kw):
    fleet = {"route": "prefix", "nodes": 4, "gpus": 32, "prefill_tokens_saved": 1_500_000, "remote_tokens": 2500.4,
             "load_imbalance": 1.234, "request_imbalance": 2.0, "hbm_gb_used_mean": 150.44, "hbm_gb_used_max": 170.0,
             "dram_gb_used_mean": 12.0, "hit_share_by_node": {"0": 0.25, "1": True}, "label": "x",
             "per_node": [{"node": 0}],
             "prefix_route_block": {"block": 1, "most_common_id": 17, "share_of_requests": 0.9}}
    fleet.update(kw)
    return single(fleet=fleet)


def test_the_fleet_lines():
    lines = cli._result_lines(fleet_out())
    assert lines[4] == "GPUs busy: 50% of the time (mean over the whole fleet of 4 nodes)"
    assert lines[5] == "throughput: 12.3 requests/s (the whole fleet of 4 nodes)"
    assert lines[7:] == [
        "fleet: 4 nodes (32 GPUs), route prefix",
        "  prompt tokens served from cache, whole fleet: 1,500,000, 2,500 of them from another node's memory",
        "  busiest node / mean node: ×1.23 prefill time, ×2 requests",
        "  hbm used per node: 150 GB on average, 170 GB on the fullest node",
        "  dram used per node: 12 GB on average",
        "  hit share by node: 0 0.25, 1 True",
        "  label: x",
        "note: prefix routing by each prompt's block 1: block id 17 routes 90.0% of the requests, all to one node "
        "(try --prefix-blocks 2)"]


def test_the_fleet_lines_without_the_optional_parts():
    lines = cli._result_lines(fleet_out(remote_tokens=None, request_imbalance=None, hbm_gb_used_max=None,
                                        prefix_route_block={"block": 3, "most_common_id": 5,
                                                            "share_of_requests": 0.25}))
    assert lines[8] == "  prompt tokens served from cache, whole fleet: 1,500,000, — of them from another node's memory"
    lines = cli._result_lines(single(fleet={"route": "session", "nodes": 4, "gpus": 32, "load_imbalance": 1.0,
                                            "hbm_gb_used_mean": 2.0, "per_node": [],
                                            "prefix_route_block": {"block": 3, "most_common_id": 5,
                                                                   "share_of_requests": 0.25}}))
    assert lines[7:] == ["fleet: 4 nodes (32 GPUs), route session", "  busiest node / mean node: ×1 prefill time",
                         "  hbm used per node: 2 GB on average",
                         "note: prefix routing by each prompt's block 3: block id 5 routes 25.0% of the requests, all "
                         "to one node"]
    lines = cli._result_lines(single(fleet={"route": "global", "nodes": 2, "gpus": 8, "prefill_tokens_saved": 10}))
    assert lines[7:] == ["fleet: 2 nodes (8 GPUs), route global", "  prompt tokens served from cache, whole fleet: 10"]


def test_the_prefix_note_suggests_the_next_block_only_past_a_fair_share():
    # 4 nodes: a fair share is 25%; 40% of the requests on one block id is more, so the note suggests block 2
    lines = cli._result_lines(fleet_out(prefix_route_block={"block": 1, "most_common_id": 9,
                                                            "share_of_requests": 0.4}))
    assert lines[-1] == ("note: prefix routing by each prompt's block 1: block id 9 routes 40.0% of the requests, all "
                         "to one node (try --prefix-blocks 2)")


def test_plain():
    assert cli._plain(1234.5) == "1,234" and cli._plain(7) == "7" and cli._plain(True) == "True"
    assert cli._plain("x") == "x" and cli._plain(None) == "None"
    assert cli._plain({"a": 0.12345, "b": {"c": 2}}) == "a 0.123, b c 2"


def test_the_fleet_output():
    summary = {"requests": 10, "lookups": 40, "hit_ratio": 0.5, "hit_ratio_hbm": 0.4, "hit_ratio_dram": 0.1,
               "prefill_tokens_saved_hbm": 100, "prefill_tokens_saved_dram": 20, "recomputed_tokens": 5,
               "input_tokens": 125, "ttft_p50_s": 0.1, "ttft_p95_s": 0.2, "zero_load_ttft_p95_s": 0.05,
               "gpu_busy_fraction": 0.3, "throughput_requests_per_s": 2.0, "cost_usd_per_hour": 9.0,
               "usd_per_million_tokens": 0.5, "route": "session", "nodes": 2, "load_imbalance": 1.1}
    fleet = SimpleNamespace(summary=lambda: dict(summary), config=SimpleNamespace(tier_names=("hbm", "dram")),
                            node_table=lambda: pd.DataFrame({"node": [0, 1], "requests": [6, 4]}))
    out = cli._fleet_out("p.jsonl", fleet, {"s": 1}, {"hbm": 10, "dram": None}, 60.0)
    assert list(out) == ["trace", "requests", "lookups", "setup", "hit_ratio", "tiers", "ttl_s", "hit_ratio_hbm",
                         "hit_ratio_dram", "prefill_tokens_saved_hbm", "prefill_tokens_saved_dram",
                         *cli.SINGLE_KEYS, "fleet"]
    assert (out["trace"], out["requests"], out["lookups"], out["setup"], out["hit_ratio"], out["tiers"],
            out["ttl_s"]) == ("p.jsonl", 10, 40, {"s": 1}, 0.5, {"hbm": 10, "dram": None}, 60.0)
    assert out["hit_ratio_dram"] == 0.1 and out["prefill_tokens_saved_hbm"] == 100
    assert {k: out[k] for k in cli.SINGLE_KEYS} == {k: summary[k] for k in cli.SINGLE_KEYS}
    assert out["fleet"] == {"route": "session", "nodes": 2, "load_imbalance": 1.1,
                            "per_node": [{"node": 0, "requests": 6}, {"node": 1, "requests": 4}]}
