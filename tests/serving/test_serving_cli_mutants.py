"""model.serving.cli by hand (``python -m model.serving predict``), in-process: the flag checks with their one-line
errors (Llama 2 70B's weights and 8 KV heads against the A100's memory, worked out here), the prediction's
arithmetic on a stand-in deployment whose step times are given, and the text printed for people."""
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from model.architectures import load_architecture
from model.checks import ParameterError
from model.hardware import load_gpu
from model.serving import cli

# 90% (vLLM's default gpu_memory_utilization) of the A100s' 80 GiB and 40 GiB
A100_80_USABLE = 0.9 * 80 * 2**30
A100_40_USABLE = 0.9 * 40 * 2**30
LLAMA_70B_PARAMS = 68_976_648_192


def args(**kw):
    base = dict(model="llama-2-70b", config=None, gpu="a100-80gb", n_gpus=4, weight_dtype="fp16", kv_dtype=None,
                input_tokens=100, output_tokens=10, batch=1, max_batch=False, batch_cap=None, json=False)
    base.update(kw)
    return SimpleNamespace(**base)


def refused(**kw) -> str:
    with pytest.raises(ParameterError) as e:
        cli._check(args(**kw))
    return str(e.value)


def test_gpus_for_the_weights():
    arch = load_architecture("llama-2-70b")
    # 137.95 GB of fp16 weights over 77.3 GB usable: 2 GPUs; fp32 over 38.7 GB: 8; int4 (34.5 GB) fits one A100 40GB
    assert 2 * LLAMA_70B_PARAMS / A100_80_USABLE == pytest.approx(1.784, abs=1e-3)
    assert cli.gpus_for_weights(arch, load_gpu("a100-80gb"), "fp16") == 2
    assert cli.gpus_for_weights(arch, load_gpu("a100-40gb"), "fp32") == math.ceil(4 * LLAMA_70B_PARAMS / A100_40_USABLE) == 8
    assert cli.gpus_for_weights(arch, load_gpu("a100-40gb"), "int4") == 1


def test_tensor_parallel_degrees_of_a_curated_model():
    arch = load_architecture("llama-2-70b")          # 8 KV heads: 1, 2, 4, 8, from the GPUs the weights need
    assert cli.tensor_parallel_degrees(arch, load_gpu("a100-80gb"), "fp16") == [2, 4, 8]
    assert cli.tensor_parallel_degrees(arch, load_gpu("a100-40gb"), "int4") == [1, 2, 4, 8]
    assert cli.tensor_parallel_degrees(arch, load_gpu("a100-40gb"), "fp32") == [8]
    # Llama 2 13B: 40 heads (MHA), 26 GB of fp16 weights on one A100 80GB
    assert cli.tensor_parallel_degrees(load_architecture("llama-2-13b"), load_gpu("a100-80gb"), "fp16") == \
        [1, 2, 4, 5, 8, 10, 20, 40]


def test_tensor_parallel_degrees_of_a_config_model():
    # Llama 3.1 405B: 128 query heads, 8 KV heads (replicated past 8 GPUs); 810 GB of fp16 weights need 11 A100 80GB
    arch = load_architecture("llama-3.1-405b")
    assert cli.tensor_parallel_degrees(arch, load_gpu("a100-80gb"), "fp16") == [16, 32, 64, 128]
    assert cli.tensor_parallel_degrees(arch, load_gpu("h200-141gb"), "fp8") == [4, 8, 16, 32, 64, 128]


def _config(tmp_path, name="tiny", **kw) -> str:
    cfg = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 256, "num_attention_heads": 4,
           "num_key_value_heads": 2, "intermediate_size": 512, "vocab_size": 1000, "max_position_embeddings": 64}
    cfg.update(kw)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def test_a_config_model_refuses_a_tp_its_kv_heads_do_not_accept(tmp_path):
    from model.architectures import load_config

    # 4 query heads, 3 KV heads: 2 and 4 GPUs neither divide 3 KV heads nor are multiples of them
    arch = load_config(_config(tmp_path, num_key_value_heads=1, num_attention_heads=4))
    assert cli.tensor_parallel_degrees(arch, load_gpu("a100-80gb"), "fp16") == [1, 2, 4]
    arch = load_config(_config(tmp_path, num_key_value_heads=4, num_attention_heads=8, hidden_size=256,
                               name="six"))
    assert cli.tensor_parallel_degrees(arch, load_gpu("a100-80gb"), "fp16") == [1, 2, 4, 8]
    arch = load_config(_config(tmp_path, num_key_value_heads=3, num_attention_heads=6, hidden_size=384,
                               name="three"))
    assert cli.tensor_parallel_degrees(arch, load_gpu("a100-80gb"), "fp16") == [1, 3, 6]


@pytest.mark.parametrize("kw, line", [
    (dict(model="llama-2-7"), "--model='llama-2-7' is not allowed: --model must be one of characterai-like, "
                              "deepseek-r1, deepseek-v3, "),
    (dict(gpu="a100"), "--gpu='a100' is not allowed: --gpu must be one of a100-40gb, a100-80gb, h100-80gb"),
    (dict(n_gpus=0), "--n-gpus=0 is not allowed: --n-gpus must be an integer >= 1"),
    (dict(weight_dtype="fp6"), "--weight-dtype='fp6' is not allowed: --weight-dtype must be one of fp32, fp16, bf16, "
                               "fp8, int8, int4, fp4"),
    (dict(kv_dtype="int3"), "--kv-dtype='int3' is not allowed: --kv-dtype must be one of fp32, fp16, bf16, fp8, "
                            "int8, int4, fp4"),
    (dict(input_tokens=0), "--input-tokens=0 is not allowed: --input-tokens must be an integer >= 1"),
    (dict(output_tokens=0), "--output-tokens=0 is not allowed: --output-tokens must be an integer >= 1"),
    (dict(batch=0), "--batch=0 is not allowed: --batch must be an integer >= 1"),
    (dict(batch=None, batch_cap=4), "--batch-cap=4 is not allowed: --batch-cap must be given only with --max-batch"),
    (dict(batch=None, max_batch=True, batch_cap=0), "--batch-cap=0 is not allowed: --batch-cap must be an integer "
                                                    ">= 1"),
    (dict(weight_dtype="fp8"), "--weight-dtype='fp8' is not allowed: --weight-dtype must be one of fp32, fp16, bf16, "
                               "int8, int4 (a100-80gb has no tensor-core peak for fp8 in data/hardware.csv)"),
    (dict(output_tokens=4096), "--output-tokens=4096 is not allowed: --output-tokens must be an integer in [1, 4095]: "
                               "llama-2-70b's context is 4,096 tokens (max_position_embeddings)"),
    (dict(input_tokens=3997, output_tokens=100),
     "--input-tokens=3997 is not allowed: --input-tokens must be an integer in [1, 3996] with --output-tokens 100: "
     "llama-2-70b's context is 4,096 tokens (max_position_embeddings)"),
    (dict(n_gpus=3), "--n-gpus=3 is not allowed: --n-gpus must be one of 2, 4, 8 (a divisor of llama-2-70b's 8 KV "
                     "heads, >= 2 x a100-80gb for its fp16 weights)"),
    (dict(n_gpus=1), "--n-gpus=1 is not allowed: --n-gpus must be one of 2, 4, 8 (a divisor of llama-2-70b's 8 KV "
                     "heads, >= 2 x a100-80gb for its fp16 weights)"),
    # DeepSeek-V3: 671.0 B parameters, 671 GB in fp8 over 0.9 x 150.75 GB = 135.7 GB usable per H200: 4.95, so 5
    (dict(model="deepseek-v3", n_gpus=3, gpu="h200-141gb", weight_dtype="fp8"),
     "--n-gpus=3 is not allowed: --n-gpus must be one of 8, 16, 32, 64, 128 (a divisor of deepseek-v3's 128 query "
     "heads (its MLA latent is on every GPU), >= 5 x h200-141gb for its fp8 weights)"),
    (dict(model="llama-3.1-405b", n_gpus=8), "--n-gpus=8 is not allowed: --n-gpus must be one of 16, 32, 64, 128 (a "
                                            "divisor or a multiple of llama-3.1-405b's 8 KV heads, >= 11 x a100-80gb "
                                            "for its fp16 weights)"),
])
def test_each_flag_is_checked_in_one_line(kw, line):
    assert refused(**kw).startswith(line)


def test_the_context_ends_are_accepted():
    assert cli._check(args(input_tokens=1, output_tokens=4095)).n_gpus == 4
    assert cli._check(args(input_tokens=3996, output_tokens=100)).n_gpus == 4
    assert cli._check(args(batch=None, max_batch=True, batch_cap=1)).n_gpus == 4


def test_weights_no_gpu_count_holds(tmp_path):
    # a vocabulary of 1e9 x 256 (embedding and output, untied): 5.12e11 parameters, 1.024 TB in fp16, over 38.65 GB
    # usable per A100 40GB: 27 GPUs, more than the 4 query heads allow
    path = _config(tmp_path, name="huge", vocab_size=10**9)
    assert math.ceil(2 * 512_001_180_928 / A100_40_USABLE) == 27
    assert refused(model=None, config=path, gpu="a100-40gb", n_gpus=1, input_tokens=5, output_tokens=5) == (
        "--n-gpus=1 is not allowed: --n-gpus must be a divisor or a multiple of huge's 2 KV heads, but its fp16 "
        "weights need >= 27 x a100-40gb: use a smaller --weight-dtype or a larger --gpu")


def test_the_kv_format(tmp_path):
    for weights, kv, want in (("fp16", None, "fp16"), ("bf16", None, "bf16"), ("fp8", None, "fp8"),
                              ("int8", None, "fp16"), ("int4", None, "fp16"), ("fp32", None, "fp16"),
                              ("int8", "fp8", "fp8")):
        dep = cli._check(args(weight_dtype=weights, kv_dtype=kv, gpu="h100-80gb", n_gpus=8))
        assert (dep.weight_dtype, dep.kv_dtype, dep.n_gpus) == (weights, want, 8)
        assert dep.arch.name == "llama-2-70b" and dep.gpu.name == "h100-80gb"


def test_a_config_file_and_its_errors(tmp_path):
    dep = cli._check(args(model=None, config=_config(tmp_path), n_gpus=2, output_tokens=5, input_tokens=5))
    assert dep.arch.name == "tiny" and dep.n_gpus == 2
    missing = str(tmp_path / "none.json")
    assert refused(model=None, config=missing) == (f"--config='{missing}' is not allowed: --config must be a path to "
                                                   "an existing config.json file")
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    assert refused(model=None, config=str(bad)).startswith(f"--config='{bad}' is not allowed: --config must be a JSON "
                                                           "object")


def test_a_config_error_of_another_name_is_kept(monkeypatch):
    def load(path):
        raise ParameterError("num_layers", 0, "an integer >= 1")

    monkeypatch.setattr(cli, "load_config", load)
    with pytest.raises(ParameterError) as e:
        cli._architecture(args(model=None, config="x.json"))
    assert str(e.value) == "num_layers=0 is not allowed: num_layers must be an integer >= 1"


# --- predict on a stand-in deployment -----------------------------------------------------------------------------
class Dep:
    """A deployment whose step times are given: 0.5 s of prefill, 0.02 s per decode step."""

    def __init__(self, capacity=1000, budget=1e9):
        self.kv_capacity_tokens, self.kv_bytes_per_token, self.kv_budget_bytes = capacity, 1e6, budget
        self.weight_bytes, self.n_gpus, self.gpu, self.memory_utilization = 2e9, 2, SimpleNamespace(name="g"), 0.75
        self.calls = []

    def step_time(self, *a):
        self.calls.append(("step", a))
        return np.float64(0.5)

    def decode_time(self, batch, contexts):
        self.calls.append(("decode", batch, list(contexts)))
        return np.full(len(contexts), 0.02)


@pytest.fixture
def usable(monkeypatch):
    monkeypatch.setattr(cli, "usable_bytes_per_gpu", lambda gpu, u: 12e9 * u)


def test_a_batch_by_hand(usable):
    dep = Dep()
    out = cli.predict(dep, 100, 5, batch=3)
    # prefill of 3 x 100 tokens (attention over 3 x 100 x 101 / 2 pairs), then 4 decode steps at contexts 100..103
    assert dep.calls == [("step", (300, 15150.0, 3, 0, 300)), ("decode", 3, [100.0, 101.0, 102.0, 103.0])]
    assert out["batch"] == 3 and out["ttft_s"] == 0.5 and out["tpot_s"] == pytest.approx(0.02)
    assert out["batch_time_s"] == pytest.approx(0.58) and out["output_tokens_per_s"] == pytest.approx(15 / 0.58)
    # KV of 3 x 105 tokens at 1 MB each; 2 GPUs x 75% of 12 GB usable
    assert out["memory"] == {"weights_gb": 2.0, "usable_gb": 18.0, "kv_budget_gb": 1.0,
                             "kv_needed_gb": 0.315, "kv_capacity_tokens": 1000,
                             "max_batch_that_fits": 9, "fits": True}
    assert type(out["ttft_s"]) is float and type(out["tpot_s"]) is float


def test_the_largest_batch_that_fits(usable):
    # 1,000 tokens of KV hold 9 requests of 105 tokens
    assert cli.predict(Dep(), 100, 5)["batch"] == 9
    assert cli.predict(Dep(), 100, 5, batch_cap=4)["batch"] == 4
    assert cli.predict(Dep(), 100, 5, batch_cap=20)["batch"] == 9
    assert cli.predict(Dep(), 100, 5, batch_cap=9)["batch"] == 9
    assert cli.predict(Dep(), 100, 5, batch=9)["batch"] == 9
    assert cli.predict(Dep(capacity=105), 100, 5)["batch"] == 1


def test_one_output_token_has_no_decode_step(usable):
    dep = Dep()
    out = cli.predict(dep, 100, 1, batch=2)
    assert [c[0] for c in dep.calls] == ["step"] and out["tpot_s"] is None
    assert out["batch_time_s"] == 0.5 and out["output_tokens_per_s"] == 2 / 0.5


def test_two_output_tokens_one_decode_step(usable):
    dep = Dep()
    out = cli.predict(dep, 7, 2, batch=1)
    assert dep.calls[1] == ("decode", 1, [7.0]) and out["tpot_s"] == pytest.approx(0.02)


def test_the_kv_check_at_its_end(usable):
    assert cli.predict(Dep(budget=315e6), 100, 5, batch=3)["memory"]["fits"] is True
    assert cli.predict(Dep(budget=314e6), 100, 5, batch=3)["memory"]["fits"] is False


def test_what_does_not_fit_is_refused(usable):
    with pytest.raises(ParameterError) as e:
        cli.predict(Dep(capacity=1000), 995, 6)
    assert str(e.value) == ("--input-tokens=995 is not allowed: --input-tokens must be with --output-tokens at most "
                            "1,000 tokens in all (one request's KV cache must fit)")
    cli.predict(Dep(capacity=1000), 995, 5)
    with pytest.raises(ParameterError) as e:
        cli.predict(Dep(), 100, 5, batch=10)
    assert str(e.value) == ("--batch=10 is not allowed: --batch must be an integer in [1, 9]: the KV cache of 9 "
                            "requests of 105 tokens fills the 1 GB the weights leave on 2 x g")
    with pytest.raises(ParameterError) as e:
        cli.predict(Dep(capacity=20000, budget=1.375e9), 1000, 500, batch=14)
    # 1.375 GB to 3 significant digits: 1.38 (the half rounds up to the even digit)
    assert str(e.value).endswith("[1, 13]: the KV cache of 13 requests of 1,500 tokens fills the 1.38 GB the weights "
                                 "leave on 2 x g")


# --- text -----------------------------------------------------------------------------------------------------------
def _out(**kw):
    out = {"model": "m", "gpu": "a100-80gb", "n_gpus": 4, "weight_dtype": "fp16", "kv_dtype": "fp8",
           "input_tokens": 1500, "output_tokens": 200, "batch": 8, "ttft_s": 0.4321, "tpot_s": 0.0256,
           "output_tokens_per_s": 1234.5, "batch_time_s": 5.5,
           "memory": {"weights_gb": 137.95, "usable_gb": 309.2, "kv_budget_gb": 171.3, "kv_needed_gb": 4.5,
                      "kv_capacity_tokens": 100, "max_batch_that_fits": 1234, "fits": True}}
    out.update(kw)
    return out


def test_the_text_line_by_line():
    assert cli.text(_out(), "Model M").split("\n") == [
        "m (Model M) on one replica of 4 x a100-80gb, tensor parallel; fp16 weights, fp8 KV cache",
        "static batch of 8 requests, each 1,500 prompt -> 200 output tokens",
        "TTFT: 432 ms per request (the batch's prefill step)",
        "TPOT: 25.6 ms per output token of a request (the mean decode step)",
        "throughput: 1,234 output tokens/s per replica, 309 per GPU (the batch takes 5.5 s)",
        "memory per replica (4 GPUs): weights 138 GB, KV cache 4.5 GB of the 171 GB left for it (309 GB usable); "
        "largest batch that fits: 1,234"]


def test_the_text_of_one_request_and_one_token():
    lines = cli.text(_out(batch=1, tpot_s=None, n_gpus=2, output_tokens_per_s=10.0), "M").split("\n")
    assert lines[1] == "static batch of 1 request, each 1,500 prompt -> 200 output tokens"
    assert lines[3] == "TPOT: n/a (one output token)"
    assert lines[4] == "throughput: 10 output tokens/s per replica, 5 per GPU (the batch takes 5.5 s)"
    assert cli.text(_out(batch=2), "M").split("\n")[1].startswith("static batch of 2 requests,")


# --- the command line -----------------------------------------------------------------------------------------------
def test_main_json_and_text(capsys):
    argv = ["predict", "--model", "llama-2-70b", "--gpu", "a100-80gb", "--n-gpus", "4", "--weight-dtype", "fp16",
            "--input-tokens", "128", "--output-tokens", "16", "--batch", "2"]
    assert cli.main(argv + ["--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert {k: r[k] for k in ("model", "gpu", "n_gpus", "weight_dtype", "kv_dtype", "input_tokens", "output_tokens",
                              "batch")} == {"model": "llama-2-70b", "gpu": "a100-80gb", "n_gpus": 4,
                                            "weight_dtype": "fp16", "kv_dtype": "fp16", "input_tokens": 128,
                                            "output_tokens": 16, "batch": 2}
    assert r["memory"]["weights_gb"] == pytest.approx(2 * LLAMA_70B_PARAMS / 1e9, rel=1e-3)
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("llama-2-70b (Llama 2 70B) on one replica of 4 x a100-80gb")
    assert cli.main(argv[:-2] + ["--max-batch", "--batch-cap", "3"]) == 0
    assert "static batch of 3 requests" in capsys.readouterr().out
    assert cli.main(argv[:-4] + ["--output-tokens", "5000", "--batch", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: --output-tokens=5000 is not allowed")


def test_the_help_names_the_flags():
    parser = cli._parser()
    assert parser.prog == "python -m model.serving"
    assert parser.description == "Step-time model predictions for one replica."
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.required and list(sub.choices) == ["predict"]
    assert [a.help for a in sub._choices_actions] == ["TTFT, TPOT and throughput of one static batch of equal requests"]
    p = sub.choices["predict"]
    assert {a.option_strings[-1]: a.help for a in p._actions if a.dest != "help"} == {
        "--model": "architecture in data/models, e.g. llama-2-70b (python -m model list models)",
        "--config": "path to a published Hugging Face config.json (in place of --model)",
        "--gpu": "GPU in data/hardware.csv, e.g. a100-80gb (python -m model list gpus)",
        "--n-gpus": "tensor-parallel GPUs of the replica: a divisor of the model's KV heads that holds its weights",
        "--weight-dtype": "number format of the weights: fp32, fp16, bf16, fp8, int8, int4, fp4",
        "--kv-dtype": "number format of the KV cache (default: fp16, or the weights' format when it is fp16/bf16/fp8)",
        "--input-tokens": "prompt tokens per request (with --output-tokens, at most the model's context)",
        "--output-tokens": "output tokens per request",
        "--batch": "requests in the static batch (at most the largest whose KV cache fits)",
        "--max-batch": "the largest batch whose KV cache fits", "--batch-cap": "at most this batch with --max-batch",
        "--json": "print JSON (exact values)"}


def test_a_command_is_needed(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2
    assert capsys.readouterr().err == "error: missing command (python -m model.serving --help lists them)\n"


def test_a_deployment_refusing_the_gpu_count_names_the_flag(monkeypatch):
    def refuse(**kw):
        raise ParameterError("n_gpus", kw["n_gpus"], "GPUs with room for the KV cache")

    monkeypatch.setattr(cli, "Deployment", refuse)
    assert refused() == "--n-gpus=4 is not allowed: --n-gpus must be GPUs with room for the KV cache"

    def other(**kw):
        raise ParameterError("kv_dtype", "fp16", "x")

    monkeypatch.setattr(cli, "Deployment", other)
    assert refused() == "kv_dtype='fp16' is not allowed: kv_dtype must be x"


@pytest.mark.parametrize("argv", [
    ["predict", "--gpu", "a100-80gb", "--n-gpus", "4", "--weight-dtype", "fp16", "--input-tokens", "1",
     "--output-tokens", "1", "--batch", "1"],
    ["predict", "--model", "m", "--n-gpus", "4", "--weight-dtype", "fp16", "--input-tokens", "1",
     "--output-tokens", "1", "--batch", "1"],
    ["predict", "--model", "m", "--gpu", "g", "--weight-dtype", "fp16", "--input-tokens", "1",
     "--output-tokens", "1", "--batch", "1"],
    ["predict", "--model", "m", "--gpu", "g", "--n-gpus", "4", "--input-tokens", "1", "--output-tokens", "1",
     "--batch", "1"],
    ["predict", "--model", "m", "--gpu", "g", "--n-gpus", "4", "--weight-dtype", "fp16", "--output-tokens", "1",
     "--batch", "1"],
    ["predict", "--model", "m", "--gpu", "g", "--n-gpus", "4", "--weight-dtype", "fp16", "--input-tokens", "1",
     "--batch", "1"],
    ["predict", "--model", "m", "--gpu", "g", "--n-gpus", "4", "--weight-dtype", "fp16", "--input-tokens", "1",
     "--output-tokens", "1"],
    ["predict", "--model", "m", "--config", "c", "--gpu", "g", "--n-gpus", "4", "--weight-dtype", "fp16",
     "--input-tokens", "1", "--output-tokens", "1", "--batch", "1"],
    ["predict", "--model", "m", "--gpu", "g", "--n-gpus", "4", "--weight-dtype", "fp16", "--input-tokens", "1",
     "--output-tokens", "1", "--batch", "1", "--max-batch"],
])
def test_required_and_exclusive_flags(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2 and capsys.readouterr().err.startswith("error: ")


def test_integer_flags(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["predict", "--model", "m", "--gpu", "g", "--n-gpus", "4", "--weight-dtype", "fp16", "--input-tokens",
                  "1", "--output-tokens", "1", "--max-batch", "--batch-cap", "x"])
    assert e.value.code == 2 and "--batch-cap must be an integer" in capsys.readouterr().err
    for flag in ("--n-gpus", "--input-tokens", "--output-tokens", "--batch"):
        argv = ["predict", "--model", "m", "--gpu", "g", "--n-gpus", "4", "--weight-dtype", "fp16",
                "--input-tokens", "1", "--output-tokens", "1", "--batch", "1"]
        argv[argv.index(flag) + 1] = "1.5"
        with pytest.raises(SystemExit):
            cli.main(argv)
        assert f"{flag} must be an integer" in capsys.readouterr().err
