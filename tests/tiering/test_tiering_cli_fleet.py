"""model.tiering.cli on a fleet: session routing from a JSONL file, GPUs per node and per fleet, HBM that cannot
exist, tier names and order, and prefix routing on prompts that all start with one block."""
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.tiering import default_config, main, simulate_fleet
from model.tiering.fleet import prefix_route_concentration, route_requests
from model.workload import CharacterChatParams, TraceFormatError, character_chat_trace
from model.workload import parse_mooncake_lines, write_jsonl
from tiering_refs import random_trace


@pytest.fixture(scope="module")
def chat_file(tmp_path_factory):
    t = character_chat_trace(CharacterChatParams(concurrent_sessions=40, mean_turns=6, session_minutes=10), seed=3)
    path = tmp_path_factory.mktemp("chat") / "chat.jsonl"
    write_jsonl(t, path)
    return t, path


def test_session_ids_round_trip_through_jsonl(chat_file):
    t, path = chat_file
    back = parse_mooncake_lines(path.read_text().splitlines(), block_tokens=t.block_tokens)
    assert back.session is not None and np.array_equal(back.session, t.session)


def test_session_route_works_from_the_command_line(chat_file, capsys):
    t, path = chat_file
    args = ["replay", str(path), "--capacity-blocks", "40", "--nodes", "3", "--route", "session", "--json",
            "--block-tokens", str(t.block_tokens)]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    cfg = default_config(block_tokens=t.block_tokens).with_capacities(hbm=40)
    cfg = cfg.__class__(tiers=cfg.tiers[:1], engine=cfg.engine, block_tokens=t.block_tokens)
    ref = simulate_fleet(t, cfg, 3, "session").summary()
    assert out["hit_ratio"] == ref["hit_ratio"] and out["requests"] == t.n_requests
    # every session's requests went to node session mod 3
    per_node = [r["requests"] for r in out["fleet"]["per_node"]]
    assert per_node == np.bincount(t.session % 3, minlength=3).tolist()


def test_session_id_on_some_records_only_names_the_line():
    lines = ['{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": [1], "session_id": 4}',
             '{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": [2]}']
    with pytest.raises(TraceFormatError, match=r"^t:2: field 'session_id' missing"):
        parse_mooncake_lines(lines, source="t")
    with pytest.raises(TraceFormatError, match=r"^t:2: field 'session_id' present"):
        parse_mooncake_lines(lines[::-1], source="t")
    with pytest.raises(TraceFormatError, match=r"^t:1: field 'session_id' is -1"):
        parse_mooncake_lines([lines[0].replace('"session_id": 4', '"session_id": -1')], source="t")


def test_fleet_setup_counts_gpus_per_node_and_per_fleet(capsys, tmp_path):
    t = random_trace(6)
    path = tmp_path / "t.jsonl"
    write_jsonl(t, path)
    assert main(["replay", str(path), "--capacity-blocks", "20", "--nodes", "8", "--route", "round-robin",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    s = out["setup"]
    # one instance of 4 GPUs per node, 8 nodes: 32 GPUs, and the cost is 32 GPU-hours per hour (HBM is free)
    assert (s["instances_per_node"], s["gpus_per_instance"], s["gpus_per_node"], s["nodes"], s["gpus"]) == (1, 4, 4, 8, 32)
    assert_allclose(out["cost_usd_per_hour"], 32 * s["gpu_usd_per_hour"], rtol=1e-12)
    assert main(["replay", str(path), "--capacity-blocks", "20", "--nodes", "8", "--route", "round-robin"]) == 0
    text = capsys.readouterr().out
    assert "per node: llama-2-70b on 1 instance(s) x 4 a100-80gb = 4 GPUs; fleet: 8 node(s) = 32 GPUs" in text
    assert " GB per node," in text and "GB/s per instance" in text


@pytest.mark.parametrize("flags, message", [
    # 4 x A100 80GB hold Llama 2 70B's 138 GB of weights and 1,020 blocks of 512 tokens (171 GB) of KV
    (["--capacity-blocks", "3000"], "--capacity-blocks=3000 is not allowed: --capacity-blocks must be at most "
                                    "1,020 blocks of HBM per node (171 GB"),
    (["--tiers", "hbm=1021,dram=5"], "--tiers='hbm=1021,dram=5' is not allowed: --tiers must be at most 1,020 blocks"),
    (["--tiers", "nvme=1000"], "--tiers='nvme=1000' is not allowed: --tiers must be tiers named hbm, dram, ssd"),
    (["--tiers", "dram=8000,hbm=1000"], "--tiers='dram=8000,hbm=1000' is not allowed: --tiers must be tiers from "
                                        "the fastest down"),
    (["--tiers", "hbm=10", "--capacity-blocks", "10"], "--capacity-blocks=10 is not allowed: --capacity-blocks "
                                                       "must be either --capacity-blocks (one HBM tier) or --tiers"),
    (["--capacity-blocks", "10", "--prefix-blocks", "2"], "--prefix-blocks=2 is not allowed: --prefix-blocks must "
                                                          "be only with --route prefix"),
    (["--capacity-blocks", "10", "--route", "prefix", "--prefix-blocks", "0"], "--prefix-blocks=0"),
])
def test_cli_refuses_what_cannot_exist(tmp_path, capsys, flags, message):
    t = random_trace(6)
    path = tmp_path / "t.jsonl"
    write_jsonl(t, path)
    assert main(["replay", str(path)] + flags) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: " + message) and len(err.splitlines()) == 1


def test_the_kv_budget_limit_is_the_hbm_left_after_the_weights():
    """1,020 blocks by hand: 4 x 80 GB x usable share - 2 bytes x 68.98e9 parameters, over 512 tokens x 327,680 B."""
    from model.serving.step_time import deployment
    dep = deployment("llama-2-70b", "a100-80gb", 4)
    block = 512 * 2 * 80 * 8 * 128 * 2                       # tokens x (K,V) x layers x kv heads x head dim x bytes
    assert default_config().tiers[0].capacity_blocks == int(dep.kv_budget_bytes // block) == 1020


def test_prefix_routing_by_a_later_block_spreads_a_shared_system_prompt(mooncake):
    t = mooncake.head(2000)
    block, share = prefix_route_concentration(t, 1)
    assert (block, share) == (0, 1.0)              # every Mooncake prompt starts with block 0: one node gets all
    assert np.unique(route_requests(t, 8, "prefix")).tolist() == [0] or len(np.unique(route_requests(t, 8, "prefix"))) == 1
    _, share2 = prefix_route_concentration(t, 2)
    assert share2 < 0.05
    load = np.bincount(route_requests(t, 8, "prefix", prefix_blocks=2), minlength=8)
    assert load.max() / load.mean() < 1.5          # the second block spreads them over the 8 nodes


def test_prefix_note_explains_the_concentration(tmp_path, capsys):
    t = random_trace(6)
    ids = t.block_ids.copy()
    ids[t.block_offsets[:-1]] = 777                # one "system prompt" block first in every prompt
    same = t.__class__(name="x", arrival_s=t.arrival_s, input_tokens=t.input_tokens, output_tokens=t.output_tokens,
                       block_offsets=t.block_offsets, block_ids=ids, block_tokens=t.block_tokens)
    path = tmp_path / "s.jsonl"
    write_jsonl(same, path)
    assert main(["replay", str(path), "--capacity-blocks", "20", "--nodes", "4", "--route", "prefix"]) == 0
    text = capsys.readouterr().out
    assert "note: prefix routing by each prompt's block 1: block id 777 routes 100.0% of the requests, all to one " \
           "node (try --prefix-blocks 2)" in text
    assert main(["replay", str(path), "--capacity-blocks", "20", "--nodes", "4", "--route", "prefix",
                 "--prefix-blocks", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fleet"]["prefix_route_block"]["share_of_requests"] < 0.5
    assert out["fleet"]["request_imbalance"] < 4.0
