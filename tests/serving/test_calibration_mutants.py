"""model.serving.calibration by hand: the single-point MBU and MFU of a replica whose bytes, FLOPs and all-reduce
are simple linear forms, their checks, and the cross-checks row by row against data/measurements/
decode_throughput.csv and hf_vs_vllm.csv (which rows are taken, how each is converted, which two calibrated)."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.io import DATA
from model.serving.calibration import calibrated_mbu, calibrated_mfu, hf_vs_vllm_check, measured_crosscheck
from model.serving.step_time import deployment, fixed_batch_time


def _replica(mbu=1.0, mfu=1.0):
    """bytes(read, written) = 2 read + 3 written at 100 bytes/s; FLOPs(tokens, pairs, sequences) = 5 tokens
    + pairs + 7 sequences at 1,000 FLOP/s; all-reduce of n tokens = 0.01 n s."""
    return SimpleNamespace(mbu=mbu, mfu=mfu, bytes_per_s=100.0, flops_per_s=1000.0,
                           step_bytes=lambda read, written: 2 * read + 3 * written,
                           step_flops=lambda tokens, pairs, seqs: 5 * tokens + pairs + 7 * seqs,
                           allreduce_time=lambda n: 0.01 * n)


def test_mbu_by_hand():
    """Batch 2 at 9 tokens of context reads 2 × (9 + 1) = 20 tokens and writes 2: 46 bytes, 0.46 s at full
    bandwidth; measured 1 s, of which 0.02 s all-reduce: MBU = 0.46 / 0.98."""
    assert_allclose(calibrated_mbu(_replica(), 2, 9, 1.0), 0.46 / 0.98, rtol=1e-12)
    with pytest.raises(ParameterError, match=r"^mbu=0\.5 is not allowed: mbu must be 1 for calibration$"):
        calibrated_mbu(_replica(mbu=0.5), 2, 9, 1.0)
    with pytest.raises(ParameterError, match=r"^batch=0 is not allowed"):
        calibrated_mbu(_replica(), 0, 9, 1.0)
    with pytest.raises(ParameterError, match=r"^measured_step_s=0\.0 is not allowed"):
        calibrated_mbu(_replica(), 1, 9, 0.0)
    assert_allclose(calibrated_mbu(_replica(), 1, 9, 1.0), (20 + 3) / 100 / 0.99, rtol=1e-12)


def test_mfu_by_hand():
    """10 prompt tokens: 5 × 10 + 10 × 11 / 2 + 7 = 112 FLOP, 0.112 s at peak; measured 0.5 s, all-reduce of 10
    tokens 0.1 s: MFU = 0.112 / 0.4."""
    assert_allclose(calibrated_mfu(_replica(), 10, 0.5), 0.112 / 0.4, rtol=1e-12)
    with pytest.raises(ParameterError, match=r"^mfu=0\.6 is not allowed: mfu must be 1 for calibration$"):
        calibrated_mfu(_replica(mfu=0.6), 10, 0.5)
    with pytest.raises(ParameterError, match=r"^prompt_tokens=0 is not allowed"):
        calibrated_mfu(_replica(), 0, 0.5)
    with pytest.raises(ParameterError, match=r"^measured_s=-1\.0 is not allowed"):
        calibrated_mfu(_replica(), 10, -1.0)


GPU = {"a100": "a100-80gb", "a100-80gb": "a100-80gb", "h100-80gb": "h100-80gb"}


def test_crosscheck_rows_by_hand():
    src = pd.read_csv(DATA / "measurements" / "decode_throughput.csv")
    keep = src[(src["model"] == "llama-2-70b") & src["metric"].isin(["ms_per_decode_step", "ms_first_token"])
               & src["dtype"].isin(["fp16", "fp8"]) & src["hardware"].isin(list(GPU))]
    t = measured_crosscheck()
    assert t["source_row"].tolist() == [k + 2 for k in keep.index]
    assert list(t.columns) == ["source_row", "hardware", "n_gpus", "dtype", "batch", "input_tokens", "output_tokens",
                               "metric", "measured_ms", "model_ms", "relative_error", "used_for_calibration"]
    for (_, r), (_, m) in zip(keep.iterrows(), t.iterrows()):
        dep = deployment("llama-2-70b", GPU[r["hardware"]], int(r["num_gpus"]), weight_dtype=r["dtype"],
                         kv_dtype=r["dtype"])
        b, i, o = int(r["batch_size"]), int(r["input_tokens"]), int(r["output_tokens"])
        if r["metric"] == "ms_first_token":
            want = float(dep.step_time(b * i, b * i * (i + 1) / 2, b, 0, b * i))
        else:
            want = float(dep.decode_time(b, i + o / 2))
        assert_allclose(m["model_ms"], 1e3 * want, rtol=1e-12)
        assert (m["hardware"], m["n_gpus"], m["dtype"], m["batch"], m["input_tokens"], m["output_tokens"],
                m["metric"], m["measured_ms"]) == (r["hardware"], r["num_gpus"], r["dtype"], b, i, o, r["metric"],
                                                   r["value"])
        assert_allclose(m["relative_error"], m["model_ms"] / r["value"] - 1, rtol=1e-12)
    # the two former calibration points: TensorRT-LLM's first token of 2,048 tokens on A100, LMDeploy's decode step
    # at batch 1 of 128 tokens on A100-80GB
    cal = t[t["used_for_calibration"]]
    assert cal[["hardware", "metric", "batch", "input_tokens"]].values.tolist() == [
        ["a100", "ms_first_token", 1, 2048], ["a100-80gb", "ms_per_decode_step", 1, 128]]


def test_crosscheck_takes_the_deployment_keywords():
    base = measured_crosscheck()
    half = measured_crosscheck({"mbu": 0.25})
    dec = base["metric"] == "ms_per_decode_step"
    assert (half.loc[dec, "model_ms"] > base.loc[dec, "model_ms"]).all()


def test_hf_vs_vllm_by_hand():
    src = pd.read_csv(DATA / "measurements" / "hf_vs_vllm.csv")
    t = hf_vs_vllm_check()
    assert len(t) == len(src)
    for (_, r), (_, m) in zip(src.iterrows(), t.iterrows()):
        sharding = "pipeline" if r["engine"] == "huggingface-transformers" else "tensor"
        dep = deployment(r["model"], r["hardware"], int(r["num_gpus"]), weight_dtype=r["dtype"],
                         kv_dtype=r["dtype"], sharding=sharding)
        want = fixed_batch_time(dep, int(r["batch_size"]), int(r["input_tokens"]), int(r["output_tokens"]))
        assert (m["engine"], m["batch"], m["input_tokens"], m["output_tokens"], m["measured_s"]) == (
            r["engine"], r["batch_size"], r["input_tokens"], r["output_tokens"], r["value"])
        assert_allclose([m["model_s"], m["relative_error"]], [want, want / r["value"] - 1], rtol=1e-12)
    # each batch's HF ÷ vLLM ratio, measured and modelled, on both of its rows
    for key, g in t.groupby(["batch", "input_tokens", "output_tokens"]):
        hf, vl = (g[g["engine"] == e].iloc[0] for e in ("huggingface-transformers", "vllm"))
        assert_allclose(g["measured_ratio"], hf["measured_s"] / vl["measured_s"], rtol=1e-12)
        assert_allclose(g["model_ratio"], hf["model_s"] / vl["model_s"], rtol=1e-12)
    # the published first batch: 948.26 s against 133.70 s
    first = t[(t["batch"] == 32) & (t["input_tokens"] == 1)].iloc[0]
    assert_allclose(first["measured_ratio"], 948.26 / 133.70, rtol=1e-12)
    assert np.isfinite(t["model_ratio"]).all()


def test_a_one_token_prompt_calibrates():
    """1 prompt token: 5 + 1 + 7 = 13 FLOP, 0.013 s; measured 0.1 s less 0.01 s all-reduce."""
    assert_allclose(calibrated_mfu(_replica(), 1, 0.1), 0.013 / 0.09, rtol=1e-12)


def test_crosscheck_rows_left_out_and_kept(tmp_path, monkeypatch):
    """A table of our own: a GPU the cross-check does not know and an INT8 row are left out, the rows after them
    kept; a decode step on 2 GPUs is modelled on 2."""
    import model.serving.calibration as cal

    (tmp_path / "measurements").mkdir()
    head = "model,hardware,num_gpus,tensor_parallel,dtype,batch_size,input_tokens,output_tokens,metric,value\n"
    rows = ["llama-2-70b,h200,4,4,fp8,1,128,128,ms_first_token,20",
            "llama-2-70b,a100,4,4,int8,1,128,128,ms_per_decode_step,20",
            "llama-2-70b,a100,4,4,fp16,1,128,128,output_tokens_per_s,30",
            "llama-2-70b,a100-80gb,2,2,fp16,1,128,128,ms_per_decode_step,40"]
    (tmp_path / "measurements" / "decode_throughput.csv").write_text(head + "\n".join(rows) + "\n")
    monkeypatch.setattr(cal, "DATA", tmp_path)
    t = measured_crosscheck()
    assert t["source_row"].tolist() == [5] and t["n_gpus"].tolist() == [2]
    want = deployment("llama-2-70b", "a100-80gb", 2).decode_time(1, 128 + 64)
    assert_allclose(t["model_ms"], [1e3 * float(want)], rtol=1e-12)


def test_hf_vs_vllm_formats_reach_the_deployment(tmp_path, monkeypatch):
    """FP8 rows of our own on H100: weights and KV in FP8 on both engines."""
    import model.serving.calibration as cal

    (tmp_path / "measurements").mkdir()
    head = "model,hardware,num_gpus,tensor_parallel,dtype,engine,batch_size,input_tokens,output_tokens,metric,value\n"
    rows = ["llama-2-70b,h100-80gb,4,4,fp8,huggingface-transformers,8,512,256,wall_time_s,40",
            "llama-2-70b,h100-80gb,4,4,fp8,vllm,8,512,256,wall_time_s,10"]
    (tmp_path / "measurements" / "hf_vs_vllm.csv").write_text(head + "\n".join(rows) + "\n")
    monkeypatch.setattr(cal, "DATA", tmp_path)
    t = hf_vs_vllm_check()
    for sharding, (_, m) in zip(("pipeline", "tensor"), t.iterrows()):
        dep = deployment("llama-2-70b", "h100-80gb", 4, weight_dtype="fp8", kv_dtype="fp8", sharding=sharding)
        assert_allclose(m["model_s"], fixed_batch_time(dep, 8, 512, 256), rtol=1e-12)
    assert_allclose(t["measured_ratio"], [4.0, 4.0], rtol=1e-12)
