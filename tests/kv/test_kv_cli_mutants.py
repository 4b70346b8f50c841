"""model.kv.cli by hand (``python -m model.kv size``), in-process: Llama 2 70B's KV worked out from its config
(80 layers, 8 KV heads of 128 dimensions), the human text of a made-up report with every layer kind (each line
written out here), the one-line errors naming the flag, and the JSON."""
import json
import os
import sys

import pytest

from model.checks import ParameterError
from model.kv import cli


def run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


LLAMA = ["size", "--model", "llama-2-70b", "--context-tokens", "5000", "--kv-dtype", "fp8", "--tp", "16"]


def test_llama_2_70b_by_hand(capsys):
    code, out, err = run(LLAMA + ["--json"], capsys)
    r = json.loads(out)
    assert code == 0 and err == ""
    # K and V x 80 layers x 8 KV heads x 128 dimensions x 1 byte (fp8) = 163,840 B per token
    assert r["kv_bytes_per_token"] == 2 * 80 * 8 * 128
    assert r["kv_bytes_per_sequence"] == 2 * 80 * 8 * 128 * 5000
    # TP 16 over 8 KV heads: each GPU holds one head (each head on 2 GPUs)
    assert r["per_gpu_bytes_per_sequence"] == 2 * 80 * 1 * 128 * 5000
    assert r["tp_group_bytes_per_sequence"] == 16 * 2 * 80 * 128 * 5000
    assert (r["model"], r["context_tokens"], r["kv_dtype"], r["state_dtype"], r["tp"]) == \
        ("llama-2-70b", 5000, "fp8", "bf16", 16)
    assert (r["display_name"], r["family"], r["attention"], r["native_context_tokens"]) == \
        ("Llama 2 70B", "llama", "GQA", 4096)
    # the published 68,976,648,192 parameters; the input embedding is 32,000 x 8,192
    assert r["parameters_total"] == r["parameters_active_per_token"] == 68_976_648_192
    assert r["parameters_active_per_token_without_input_embedding"] == 68_976_648_192 - 32_000 * 8192
    assert out == json.dumps(r, indent=2) + "\n"


def test_defaults_and_state_dtype(capsys):
    code, out, _ = run(["size", "--model", "llama-2-70b", "--context-tokens", "10", "--json"], capsys)
    r = json.loads(out)
    assert (r["kv_dtype"], r["state_dtype"], r["tp"]) == ("bf16", "bf16", 1)
    assert r["kv_bytes_per_token"] == 2 * 80 * 8 * 128 * 2 and r["per_gpu_bytes_per_sequence"] == r[
        "kv_bytes_per_sequence"]
    r = json.loads(run(["size", "--model", "llama-2-70b", "--context-tokens", "10", "--state-dtype", "fp32",
                        "--kv-dtype", "fp16", "--json"], capsys)[1])
    assert (r["kv_dtype"], r["state_dtype"]) == ("fp16", "fp32")


def test_a_config_file(tmp_path, capsys):
    cfg = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 256, "num_attention_heads": 4,
           "num_key_value_heads": 2, "intermediate_size": 512, "vocab_size": 1000, "max_position_embeddings": 64}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    code, out, err = run(["size", "--config", str(path), "--context-tokens", "100", "--json"], capsys)
    r = json.loads(out)
    # head dimension 256 / 4 = 64: K and V x 2 layers x 2 KV heads x 64 x 2 bytes
    assert code == 0 and r["kv_bytes_per_token"] == 2 * 2 * 2 * 64 * 2 and r["native_context_tokens"] == 64


def report(context=5000, native=4096):
    gb = 1e9
    return {
        "display_name": "Tiny", "model": "tiny", "family": "fam", "attention": "GQA", "context_tokens": context,
        "kv_dtype": "fp8", "tp": 2, "native_context_tokens": native, "kv_bytes_per_token": 1234.56,
        "kv_bytes_per_sequence": 187_500_000,
        "by_layer_kind": [
            {"kind": "full", "window": None, "layers": 40, "elements_per_token": 2048, "tokens_held": 5000.0,
             "state_bytes": 0.0, "bytes_per_sequence": 0.4096 * gb, "per_gpu_bytes_per_sequence": 0.2048 * gb,
             "tp_rule": "split"},
            {"kind": "sliding", "window": 1024, "layers": 8, "elements_per_token": 512, "tokens_held": 1024.0,
             "state_bytes": 0.0, "bytes_per_sequence": 4_194_304, "per_gpu_bytes_per_sequence": 4_194_304,
             "tp_rule": "replicated"},
            {"kind": "chunked", "window": 8192, "layers": 120, "elements_per_token": 1024, "tokens_held": 4999.6,
             "state_bytes": 0.0, "bytes_per_sequence": 1.5 * gb, "per_gpu_bytes_per_sequence": 0.75 * gb,
             "tp_rule": "split"},
            {"kind": "linear", "window": None, "layers": 3, "elements_per_token": 0, "tokens_held": 0.0,
             "state_bytes": 1_375_000, "bytes_per_sequence": 3_703_701, "per_gpu_bytes_per_sequence": 1_851_851,
             "tp_rule": "split by heads"},
            {"kind": "full", "window": None, "layers": 2, "elements_per_token": 0, "tokens_held": 5000.0,
             "state_bytes": 0.0, "bytes_per_sequence": 0, "per_gpu_bytes_per_sequence": 0, "tp_rule": "shared"}],
        "per_gpu_bytes_per_sequence": 617_283_945, "tp_group_bytes_per_sequence": 1_234_567_890,
        "parameters_total": 1_234_567_890_123, "parameters_active_per_token": 875_000_000,
        "parameters_active_per_token_without_input_embedding": 375_000_000}


def test_the_human_text_line_by_line():
    assert cli._human(report()).split("\n") == [
        "Tiny (tiny, fam, GQA), 5,000 tokens, KV in fp8, TP 2",
        "  note: the context exceeds the model's native 4,096 tokens",
        "  kv_bytes_per_token (mean over the context, whole model): 1,234.6 B",
        "  kv_bytes_per_sequence (whole model): 187,500,000 B = 0.188 GB",
        "  by layer kind (whole model, one sequence):",
        "     40 full layers: 5,000 tokens x 2,048 elements/token/layer: 0.410 GB; per GPU 0.205 GB (split)",
        "      8 sliding window 1,024 layers: 1,024 tokens x 512 elements/token/layer: 0.004 GB; per GPU 0.004 GB "
        "(replicated)",
        "    120 chunked chunk 8,192 layers: 5,000 tokens x 1,024 elements/token/layer: 1.500 GB; per GPU 0.750 GB "
        "(split)",
        "      3 linear layers: fixed state 1.38 MB: 0.004 GB; per GPU 0.002 GB (split by heads)",
        "      2 full layers: no cache of their own (they read an earlier layer's KV): 0.000 GB; per GPU 0.000 GB "
        "(shared)",
        "  per GPU under TP 2: 0.617 GB per sequence (whole TP group: 1.235 GB)",
        "  parameters: 1,234.57 B total, 0.88 B active per token (0.38 B without the input embedding)"]


def test_no_note_within_the_native_context():
    assert "note:" not in cli._human(report(context=4096, native=4096))
    assert "note: the context exceeds the model's native 4,095 tokens" in cli._human(report(4096, 4095))


def test_main_prints_the_human_text(capsys):
    code, out, err = run(LLAMA, capsys)
    assert code == 0 and err == ""
    assert out.startswith("Llama 2 70B (llama-2-70b, llama, GQA), 5,000 tokens, KV in fp8, TP 16\n"
                          "  note: the context exceeds the model's native 4,096 tokens\n")
    assert "  kv_bytes_per_sequence (whole model): 819,200,000 B = 0.819 GB\n" in out


@pytest.mark.parametrize("flags, line", [
    (["--kv-dtype", "int3"], "error: --kv-dtype='int3' is not allowed: --kv-dtype must be one of 'bf16', 'fp16', "
                             "'fp8', 'fp4'"),
    (["--state-dtype", "fp8"], "error: --state-dtype='fp8' is not allowed: --state-dtype must be one of 'bf16', "
                               "'fp16', 'fp32'"),
    (["--context-tokens", "0"], "error: --context-tokens=0 is not allowed: --context-tokens must be an integer in "
                                "[1, inf]"),
    (["--tp", "0"], "error: --tp=0 is not allowed: --tp must be an integer in [1, inf]"),
])
def test_errors_name_the_flag(flags, line, capsys):
    code, out, err = run(["size", "--model", "llama-2-70b", "--context-tokens", "5"] + flags, capsys)
    assert (code, out, err) == (2, "", line + "\n")


def test_errors_of_the_model_and_config(capsys, tmp_path):
    code, out, err = run(["size", "--model", "llama-2-7", "--context-tokens", "5"], capsys)
    assert code == 2 and err.startswith("error: --model='llama-2-7' is not allowed: --model must be one of ")
    missing = tmp_path / "none.json"
    code, out, err = run(["size", "--config", str(missing), "--context-tokens", "5"], capsys)
    assert (code, err) == (2, f"error: --config='{missing}' is not allowed: --config must be a path to an existing "
                              "config.json file\n")


def test_an_error_of_another_name_is_kept_and_only_the_first_mention_renamed(monkeypatch, capsys):
    def refuse(args):
        raise ParameterError(args.model, "tp=3", "tp must x")

    monkeypatch.setattr(cli, "size_report", refuse)
    code, _, err = run(["size", "--model", "window", "--context-tokens", "5"], capsys)
    assert (code, err) == (2, "error: window='tp=3' is not allowed: window must be tp must x\n")
    code, _, err = run(["size", "--model", "tp", "--context-tokens", "5"], capsys)
    assert (code, err) == (2, "error: --tp='tp=3' is not allowed: --tp must be tp must x\n")


def test_halves_round_up_only_when_divided_exactly():
    # 1.375e9 parameters are 1.38 billion, 1,375,000 B of state 1.38 MB, 187.5 MB of KV 0.188 GB: each a half that
    # rounds up (to the even digit) only if the division is by exactly 1e9 or 1e6
    lines = cli._human({**report(), "parameters_total": 1_375_000_000}).split("\n")
    assert lines[-1].startswith("  parameters: 1.38 B total, ")
    assert lines[3] == "  kv_bytes_per_sequence (whole model): 187,500,000 B = 0.188 GB"


def test_the_parsers_words():
    p = cli._parser()
    assert p.prog == "python -m model.kv" and p.description == "KV-cache sizes of the study's models or of any config.json."
    sub = next(a for a in p._actions if a.dest == "command")
    assert [a.help for a in sub._choices_actions] == ["KV bytes of one sequence: per token, per sequence, per layer kind, "
                                                      "per GPU"]


def test_no_command_prints_the_help(capsys):
    code, out, err = run([], capsys)
    assert code == 0 and out.startswith("usage: python -m model.kv") and err == ""
    assert "KV-cache sizes of the study's models or of any config.json." in " ".join(out.split())
    assert "KV bytes of one sequence: per token, per sequence, per layer kind, per GPU" in " ".join(out.split())


def test_the_size_help_names_the_flags_and_formats(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["size", "--help"])
    out = "".join(capsys.readouterr().out.split())         # argparse wraps lines, at hyphens too
    assert e.value.code == 0
    for text in ("KV bytes of one sequence of a model (windows, chunks, MLA latents and linear-attention states "
                 "counted), whole model and per GPU under tensor parallelism, and its parameters.",
                 "--model MODEL a model of data/models (python -m model.architectures list)",
                 "--config CONFIG path to a Hugging Face config.json",
                 "--context-tokens CONTEXT_TOKENS tokens in the sequence (>= 1)",
                 "--kv-dtype KV_DTYPE KV number format: bf16, fp16, fp8, fp4 (fp4 = NVFP4 with its block scales, "
                 "4.5 bits); default bf16",
                 "--state-dtype STATE_DTYPE number format of linear-attention states: bf16, fp16, fp32; default bf16",
                 "--tp TP tensor-parallel GPUs (default 1)", "--json print every figure exactly, as JSON"):
        assert "".join(text.split()) in out, text


def test_one_of_model_and_config_is_required(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["size", "--context-tokens", "5"])
    assert e.value.code == 2 and "--model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["size", "--model", "llama-2-70b"])
    assert e.value.code == 2 and "--context-tokens" in capsys.readouterr().err


def test_a_closed_pipe_is_not_an_error(monkeypatch, tmp_path):
    target = open(tmp_path / "out.txt", "w+")

    class Pipe:
        def write(self, text):
            raise BrokenPipeError

        def flush(self):
            raise BrokenPipeError

        def fileno(self):
            return target.fileno()

    monkeypatch.setattr(sys, "stdout", Pipe())
    try:
        assert cli.main(LLAMA + ["--json"]) == 0
        os.write(target.fileno(), b"lost")
        assert (tmp_path / "out.txt").read_text() == ""
    finally:
        target.close()


def test_the_offered_formats():
    assert cli.KV_DTYPES == ("bf16", "fp16", "fp8", "fp4") and cli.STATE_DTYPES == ("bf16", "fp16", "fp32")
