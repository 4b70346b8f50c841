"""model.plan.cli by hand (``python -m model.plan``), in-process: every flag's help (its unit, what it accepts and
its cited default: the case study's service of data/parameters/plan.csv), its type, the input file, the flags over
it, and each input's error reported with the flag a user types; the plan itself is a stand-in (its arithmetic is
tested in tests/plan/)."""
import json

import pytest

from model.checks import ParameterError
from model.plan import cli

HELP = {
    "--input": "a YAML or JSON file of inputs named as the flags (sessions, ttft_p95_s, ...); flags given as well win",
    "--sessions": "concurrent sessions (> 0; default 1,000,000)",
    "--requests-per-s": "a turn rate instead of --sessions, requests/s (> 0; the sessions follow by Little's law)",
    "--turns-per-session": "turns per session (> 0; default 200)",
    "--session-minutes": "session length, minutes (> 0; default 30)",
    "--prompt-tokens": "prompt tokens per turn as the model receives them (>= 1; default 2000)",
    "--reply-tokens": "reply tokens per turn (>= 1; default 100)",
    "--model": "a model of data/models (python -m model list; default llama-2-70b)",
    "--config": "path to a Hugging Face config.json",
    "--gpu": "a GPU of data/hardware.csv (python -m model list; default a100-80gb)",
    "--weight-dtype": "weight number format (default fp16)",
    "--kv-dtype": "KV number format (default fp16)",
    "--ttft-p95-s": "P95 time to first token, s (> 0 and above the zero-load floor; default 3.2)",
    "--tpot-p95-s": "P95 time per output token, s (> 0 and above the zero-load floor; default 0.1)",
    "--e2e-p95-s": "P95 time of the whole reply, s, instead of --ttft-p95-s and --tpot-p95-s (> the zero-load floor; "
                   "the plan splits it between the first token and the rest and keeps the cheapest)",
    "--latency-quantile": "quantile of the two targets, in (0, 1) (default 0.95)",
    "--gpu-provider": "data/prices/gpu_prices.csv provider (default aws)",
    "--gpu-pricing": "on-demand, spot, ... (default on-demand)",
    "--gpu-usd-per-hour": "a GPU-hour price of your own (> 0)",
    "--api-model": "data/prices/api_prices.csv model to compare with (default gpt-3.5-turbo-0125)",
    "--max-batch": "most running sequences per replica (>= 1; default 256)",
    "--chunk-tokens": "tokens per step of chunked prefill (> --max-batch; default 512)",
    "--node-gpus": "GPUs per server (>= 1; default 8)",
    "--max-nodes-per-replica": "most nodes one expert-parallel prefill or decode replica of an MoE model spans (>= 0, "
                               "0 = tensor-parallel replicas in a node only; default 18, DeepSeek's decode unit)",
    "--cache-hit-share": "share of the ideal prefix hit ratio the cache is sized for, in (0, 1] (default 0.9)",
    "--no-cache": "plan without a prefix cache",
    "--shared-persona-tokens": "system prompt every session shares, tokens (>= 0; default 1000)",
    "--character-persona-tokens": "prompt of each character (persona), tokens (>= 0; default 1000)",
    "--characters": "distinct characters (personas) (>= 1; default 5,000,000)",
    "--zipf-exponent": "Zipf exponent of the characters' popularity (>= 0; default 1.0723)",
    "--dram-usd-per-gb-month": "price of the cache's host DRAM, USD/GB-month (>= 0; default data/hardware.csv "
                               "host-dram)",
    "--ssd-usd-per-gb-month": "price of the cache's SSD, USD/GB-month (>= 0; default data/hardware.csv nvme-ssd)",
    "--disaggregation": "auto (the cheaper at the SLO, default), aggregated or disaggregated",
    "--grid-g-co2-per-kwh": "grid carbon intensity, gCO2/kWh (>= 0; default 367)",
    "--node-other-w-per-gpu": "power of a node's CPUs, memory, NICs, fans per GPU, W (>= 0; default 412.5)",
    "--peak-to-mean": "demand the pools are sized for, x the sessions' mean (>= 1; default 1)",
    "--spare-fraction": "hot spares per region, as a share of its serving GPUs (>= 0; default 0.1)",
    "--regions": "regions the fleet is split over, equal shares unless --region-shares (>= 1; default 1)",
    "--region-shares": "comma-separated share of the demand per region, summing to 1 (e.g. 0.45,0.25,0.3)",
    "--compare-gpus": "comma-separated GPUs of data/hardware.csv to plan the same service on, side by side (each at "
                      "its own price row)",
    "--simulate": "also run one replica of each pool through the discrete-event simulator at the plan's rate and "
                  "show how far its P95 TTFT and TPOT are from the plan's (about a second more)",
    "--json": "print the plan exactly, as one JSON object",
    "--html": "also write the report with its charts to FILE (one HTML page that needs no network)",
}
FLOATS = {"--sessions", "--requests-per-s", "--turns-per-session", "--session-minutes", "--ttft-p95-s",
          "--tpot-p95-s", "--e2e-p95-s", "--latency-quantile", "--gpu-usd-per-hour", "--cache-hit-share",
          "--zipf-exponent", "--dram-usd-per-gb-month", "--ssd-usd-per-gb-month", "--grid-g-co2-per-kwh",
          "--node-other-w-per-gpu", "--peak-to-mean", "--spare-fraction"}
INTS = {"--prompt-tokens", "--reply-tokens", "--max-batch", "--chunk-tokens", "--node-gpus", "--max-nodes-per-replica",
        "--shared-persona-tokens", "--character-persona-tokens", "--characters", "--regions"}
SWITCHES = {"--no-cache", "--simulate", "--json"}


@pytest.fixture
def parser():
    # built in each test that uses it (not once per module), so that every such test is counted as running _parser
    return cli._parser()


def test_every_flag_says_its_unit_range_and_default(parser):
    helps = {a.option_strings[-1]: a.help for a in parser._actions if a.option_strings != ["-h", "--help"]}
    assert helps == HELP
    assert parser.prog == "python -m model.plan"
    assert parser.description == ("Plan a chat service: GPUs (aggregated or disaggregated prefill/decode), KV cache "
                                  "per node, routing, TTL, cost and energy, in closed form. Defaults: the case "
                                  "study's service (data/parameters).")


def test_the_defaults_in_the_help_are_the_case_studys():
    from model.plan.inputs import PlanInputs

    d = PlanInputs()
    # data/parameters/plan.csv: 1M sessions of 200 turns in 30 minutes, 2,000 prompt + 100 reply tokens, P95 3.2 s
    assert (d.sessions, d.turns_per_session, d.session_minutes, d.prompt_tokens, d.reply_tokens, d.ttft_p95_s) == \
        (1_000_000, 200, 30, 2000, 100, 3.2)


def test_every_flag_has_its_type(parser):
    by_flag = {a.option_strings[-1]: a for a in parser._actions}
    assert {f for f, a in by_flag.items() if a.type is float} == FLOATS
    assert {f for f, a in by_flag.items() if a.type is int} == INTS
    assert {f for f, a in by_flag.items() if a.nargs == 0 and f != "--help"} == SWITCHES
    assert by_flag["--disaggregation"].choices == ("auto", "aggregated", "disaggregated")
    assert by_flag["--html"].metavar == "FILE"
    for flag in SWITCHES:
        assert parser.parse_args([flag]).__dict__[flag[2:].replace("-", "_")] is True
        assert parser.parse_args([]).__dict__[flag[2:].replace("-", "_")] is False


@pytest.mark.parametrize("argv, line", [
    (["--sessions", "1", "--requests-per-s", "2"], "error: --requests-per-s is not allowed with --sessions: give one "
                                                   "of them"),
    (["--model", "m", "--config", "c"], "error: --config is not allowed with --model: give one of them"),
    (["--disaggregation", "split"], "error: --disaggregation='split' is not allowed: --disaggregation must be one of "
                                    "auto, aggregated, disaggregated"),
    (["--prompt-tokens", "1.5"], "error: --prompt-tokens='1.5' is not allowed: --prompt-tokens must be an integer"),
    (["--sessions", "many"], "error: --sessions='many' is not allowed: --sessions must be a number"),
])
def test_parse_errors(parser, argv, line, capsys):
    with pytest.raises(SystemExit) as e:
        parser.parse_args(argv)
    assert e.value.code == 2 and capsys.readouterr().err == line + "\n"


# --- the input file -------------------------------------------------------------------------------------------------
def test_an_input_file_yaml_or_json(tmp_path):
    path = tmp_path / "in.yaml"
    path.write_text("sessions: 5000\nprompt-tokens: 300\n7: x\n")
    assert cli._read_input(str(path)) == {"sessions": 5000, "prompt_tokens": 300, "7": "x"}
    path = tmp_path / "in.json"
    path.write_text('{"ttft-p95-s": 2.5, "turns_per_session": 10}')
    assert cli._read_input(str(path)) == {"ttft_p95_s": 2.5, "turns_per_session": 10}


def test_input_file_errors(tmp_path):
    missing = tmp_path / "none.yaml"
    with pytest.raises(ParameterError) as e:
        cli._read_input(str(missing))
    assert str(e.value) == f"input='{missing}' is not allowed: input must be a readable file (No such file or directory)"
    for text in ("[1, 2]", "just words", "a: [1, 2\n"):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ParameterError) as e:
            cli._read_input(str(bad))
        assert str(e.value) == f"input='{bad}' is not allowed: input must be a YAML or JSON mapping of input names to " \
                               "values", text


def inputs(argv, tmp_path=None, text=None):
    if text is not None:
        path = tmp_path / "in.yaml"
        path.write_text(text)
        argv = ["--input", str(path)] + argv
    return cli.inputs_from_args(cli._parser().parse_args(argv))


def test_flags_over_the_file(tmp_path):
    p = inputs(["--sessions", "2000", "--no-cache"], tmp_path, "sessions: 5000\nreply-tokens: 50\n")
    assert (p.sessions, p.reply_tokens, p.cache, p.prompt_tokens) == (2000, 50, False, 2000)
    p = inputs([])
    assert (p.sessions, p.cache, p.model, p.config) == (1_000_000, True, "llama-2-70b", None)


def test_region_shares(tmp_path):
    p = inputs(["--regions", "3", "--region-shares", "0.45,0.25,0.3"])
    assert p.region_shares == (0.45, 0.25, 0.3) and p.regions == 3
    with pytest.raises(ParameterError) as e:
        inputs(["--regions", "2", "--region-shares", "0.5,half"])
    assert str(e.value) == ("--region-shares='0.5,half' is not allowed: --region-shares must be comma-separated numbers "
                            "summing to 1 (e.g. 0.45,0.25,0.3)")


def test_an_unknown_input_name(tmp_path):
    from dataclasses import fields

    from model.plan.inputs import PlanInputs

    names = sorted(f.name for f in fields(PlanInputs))
    with pytest.raises(ParameterError) as e:
        inputs([], tmp_path, "zeta: 1\nsesions: 3\nsessions: 4\n")
    assert str(e.value) == "input='sesions' is not allowed: input must be one of " + ", ".join(names)
    assert names[0] == "api_model" and "sessions" in names


@pytest.mark.parametrize("argv, text", [
    (["--e2e-p95-s", "10", "--ttft-p95-s", "2"], None), (["--e2e-p95-s", "10", "--tpot-p95-s", "0.1"], None),
    (["--e2e-p95-s", "10"], "ttft_p95_s: 2\n"), ([], "e2e_p95_s: 10\ntpot_p95_s: 0.1\n")])
def test_an_end_to_end_target_replaces_both(tmp_path, argv, text):
    with pytest.raises(ParameterError) as e:
        inputs(argv, tmp_path, text)
    assert str(e.value) == ("--e2e-p95-s=10.0 is not allowed: --e2e-p95-s must be given without --ttft-p95-s and "
                            "--tpot-p95-s (it replaces both; in an --input file as well)").replace(
        "10.0", "10.0" if argv else "10")


def test_an_end_to_end_target_alone():
    p = inputs(["--e2e-p95-s", "10"])
    assert p.e2e_p95_s == 10.0


def test_model_and_config_from_file_and_flags(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 256,
                               "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
                               "vocab_size": 1000, "max_position_embeddings": 4096}))
    p = inputs(["--model", "llama-2-13b"], tmp_path, f"config: {cfg}\nmodel: llama-2-7b\n")
    assert (p.model, p.config) == ("llama-2-13b", None)
    p = inputs([], tmp_path, f"config: {cfg}\nmodel: llama-2-7b\n")
    assert p.config == str(cfg) and p.model != "llama-2-7b"
    p = inputs([], tmp_path, "model: llama-2-7b\nconfig: null\n")
    assert (p.model, p.config) == ("llama-2-7b", None)
    assert inputs(["--model", "llama-2-7b"]).model == "llama-2-7b"           # no config to drop
    assert inputs([], tmp_path, f"config: {cfg}\n").config == str(cfg)      # no model to drop


# --- errors named by their flag -------------------------------------------------------------------------------------
#: Each input name and the flag a user types for it (several inputs of the plan are set by one flag).
NAMED = {"sessions": "--sessions", "turns_per_session": "--turns-per-session", "session_minutes": "--session-minutes",
         "prompt_tokens": "--prompt-tokens", "reply_tokens": "--reply-tokens", "model": "--model",
         "config": "--config", "gpu": "--gpu", "weight_dtype": "--weight-dtype", "kv_dtype": "--kv-dtype",
         "ttft_p95_s": "--ttft-p95-s", "tpot_p95_s": "--tpot-p95-s", "latency_quantile": "--latency-quantile",
         "gpu_provider": "--gpu-provider", "gpu_pricing": "--gpu-pricing", "gpu_usd_per_hour": "--gpu-usd-per-hour",
         "api_model": "--api-model", "max_batch": "--max-batch", "chunk_tokens": "--chunk-tokens",
         "node_gpus": "--node-gpus", "max_nodes_per_replica": "--max-nodes-per-replica",
         "cache_hit_share": "--cache-hit-share", "disaggregation": "--disaggregation",
         "grid_g_co2_per_kwh": "--grid-g-co2-per-kwh", "node_other_w_per_gpu": "--node-other-w-per-gpu",
         "name": "--model", "cache": "--no-cache", "shared_persona_tokens": "--shared-persona-tokens",
         "character_persona_tokens": "--character-persona-tokens", "characters": "--characters",
         "zipf_exponent": "--zipf-exponent", "dram_usd_per_gb_month": "--dram-usd-per-gb-month",
         "ssd_usd_per_gb_month": "--ssd-usd-per-gb-month", "requests_per_s": "--requests-per-s", "input": "--input",
         "n_characters": "--characters", "popular_characters": "--characters",
         "history_window_tokens": "--shared-persona-tokens", "e2e_p95_s": "--e2e-p95-s",
         "peak_to_mean": "--peak-to-mean", "spare_fraction": "--spare-fraction", "spare_share": "--spare-fraction",
         "regions": "--regions", "region_shares": "--region-shares", "html": "--html"}


@pytest.mark.parametrize("name, flag", sorted(NAMED.items()))
def test_each_input_is_reported_with_its_flag(name, flag):
    msg = cli._flag_message(ParameterError(name, 7, "an integer in [1, 5]"))
    assert msg == f"{flag}=7 is not allowed: {flag} must be an integer in [1, 5]"


def test_every_flag_named_is_a_flag_of_the_parser(parser):
    assert set(NAMED.values()) <= set(parser._option_string_actions)
    assert cli.FLAGS == NAMED


def test_other_names_and_items():
    assert cli._flag_message(ParameterError("region_shares[1]", -0.5, "a share in [0, 1]")) == \
        "--region-shares[1]=-0.5 is not allowed: --region-shares[1] must be a share in [0, 1]".replace(
            "--region-shares[1]", "--region-shares")
    assert cli._flag_message(ParameterError("unknown[0]", 1, "x")) == "unknown[0]=1 is not allowed: unknown[0] must be x"
    assert cli._flag_message(ParameterError("window", 1, "x")) == "window=1 is not allowed: window must be x"
    assert cli._flag_message(ParameterError("--compare-gpus", "z", "x")) == \
        "--compare-gpus='z' is not allowed: --compare-gpus must be x"
    # only the first mention is the parameter's name: a value that repeats it is left as it is
    assert cli._flag_message(ParameterError("regions", "regions=2", "regions must x")) == \
        "--regions='regions=2' is not allowed: --regions must be regions must x"
    assert cli._flag_message(ParameterError("region_shares[0]", "region_shares[0]=1", "x")) == \
        "--region-shares='region_shares[0]=1' is not allowed: --region-shares must be x"
    assert cli._flag_message(ParameterError("region_shares[0]", 1, "as region_shares[0] must")) == \
        "--region-shares=1 is not allowed: --region-shares must be as region_shares[0] must"


# --- main on a stand-in plan ----------------------------------------------------------------------------------------
@pytest.fixture
def stand_in(monkeypatch):
    import model.plan.compose as C
    import model.plan.report as R

    seen = {}

    def make_plan(inputs, simulate=False):
        seen["inputs"], seen["simulate"] = inputs, simulate
        return {"gpus": 12}

    monkeypatch.setattr(C, "make_plan", make_plan)
    monkeypatch.setattr(C, "compare_gpus", lambda inputs, names: [{"gpu": g} for g in names])
    monkeypatch.setattr(R, "markdown", lambda plan: f"report of {plan['gpus']} GPUs")
    monkeypatch.setattr(R, "write_html", lambda plan, path: open(path, "w").write("<html>"))
    return seen


def test_main_prints_the_report_or_json(stand_in, capsys, tmp_path):
    assert cli.main(["--sessions", "100"]) == 0
    assert capsys.readouterr().out == "report of 12 GPUs\n" and stand_in["simulate"] is False
    assert stand_in["inputs"].sessions == 100
    assert cli.main(["--json", "--simulate", "--compare-gpus", " h100-80gb, a100-40gb ,"]) == 0
    assert json.loads(capsys.readouterr().out) == {"gpus": 12, "compare_gpus": [{"gpu": "h100-80gb"},
                                                                                {"gpu": "a100-40gb"}]}
    assert stand_in["simulate"] is True
    page = tmp_path / "p.html"
    assert cli.main(["--html", str(page)]) == 0 and page.read_text() == "<html>"


def test_main_errors(stand_in, capsys, tmp_path):
    assert cli.main(["--sessions", "-1"]) == 2
    assert capsys.readouterr().err == "error: --sessions=-1.0 is not allowed: --sessions must be a finite number in " \
                                      "(0, inf]\n"
    assert cli.main(["--compare-gpus", "h100,a100-40gb"]) == 2
    assert capsys.readouterr().err.startswith("error: --compare-gpus='h100,a100-40gb' is not allowed: --compare-gpus "
                                              "must be a comma-separated list of a100-40gb, a100-80gb")
    assert cli.main(["--compare-gpus", " , "]) == 2
    assert capsys.readouterr().err.startswith("error: --compare-gpus=' , ' is not allowed")
    assert cli.main(["--html", str(tmp_path / "no" / "p.html")]) == 2
    assert capsys.readouterr().err.startswith(f"error: --html='{tmp_path / 'no' / 'p.html'}' is not allowed: --html "
                                              "must be a file that can be written (No such file or directory)")
