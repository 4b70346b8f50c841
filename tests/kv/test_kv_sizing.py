"""model.kv.sizing: the KV-sizing chapter's parameter check and the KV formats of its what-if."""
import pytest

from model.checks import ParameterError
from model.kv.sizing import check_kv_sizing, what_if_kv_bytes

GOOD = dict(model="llama-2-70b", gpu="a100-80gb", context_tokens=10_000, sessions=1_000_000, weight_dtype="fp16",
            kv_dtype="fp16", n_gpus_for_comparison=8, compare_models=["llama-2-7b", "llama-3-70b"],
            context_grid_step=1024, quick_context_grid_step=4096, context_grid_max=32768, n_gpus_options=[1, 2, 4, 8],
            what_if_kv_dtypes=["fp16", "fp8", "int4"], what_if_context_step=1000)


def test_good_parameters_pass():
    assert check_kv_sizing(**GOOD) is None


@pytest.mark.parametrize("name, value", [
    ("model", "no-such-model"), ("gpu", "no-such-gpu"), ("context_tokens", 0), ("sessions", 0),
    ("weight_dtype", "fp3"), ("kv_dtype", "fp3"), ("n_gpus_for_comparison", 0),
    ("compare_models", ["llama-2-7b", "nope"]), ("context_grid_step", 0), ("quick_context_grid_step", 0),
    ("context_grid_max", 0), ("n_gpus_options", [1, 0]), ("what_if_kv_dtypes", ["fp16", "fp3"]),
    ("what_if_context_step", 0)])
def test_each_bad_parameter_is_named(name, value):
    with pytest.raises(ParameterError) as err:
        check_kv_sizing(**{**GOOD, name: value})
    assert err.value.name == name


def test_what_if_formats_one_per_size_largest_first():
    # fp16 2 bytes, fp8 and int8 1 byte (fp8 seen first keeps the size), int4 half a byte
    assert what_if_kv_bytes("fp16", ["int4", "fp8", "int8"]) == {"fp16": 2.0, "fp8": 1.0, "int4": 0.5}
    assert list(what_if_kv_bytes("fp16", ["int4", "fp8", "int8"])) == ["fp16", "fp8", "int4"]


def test_what_if_chapter_format_names_its_size():
    # int8 is the chapter's format: it, not the fp8 offered first, names the 1-byte size
    assert what_if_kv_bytes("int8", ["fp16", "fp8"]) == {"fp16": 2.0, "int8": 1.0}
    assert list(what_if_kv_bytes("int8", ["fp16", "fp8"])) == ["fp16", "int8"]
    assert what_if_kv_bytes("fp8", []) == {"fp8": 1.0}


@pytest.mark.parametrize("name, value, allowed", [
    # one grid point needs a step no longer than the chart's last context
    ("context_grid_step", 40_000, "[2, 32768]"),
    ("quick_context_grid_step", 32_769, "[2, 32768]"),
    # 32,768 tokens x 5 GPU counts (1, 2, 4, 8 and no other) at step 1 is 163,840 rows; Altair's limit of
    # 5,000 rows needs a step of at least ceil(32,768 x 4 / 5,000) = 27 tokens (8 is among the options already)
    ("context_grid_step", 26, "[27, 32768]"),
])
def test_a_context_grid_with_no_point_or_too_many_rows_is_refused_by_its_step(name, value, allowed):
    with pytest.raises(ParameterError) as err:
        check_kv_sizing(**{**GOOD, name: value})
    assert err.value.name == name
    if allowed != "[2, 32768]":
        assert allowed in str(err.value)


def test_the_finest_context_grid_that_fits_a_chart_passes():
    check_kv_sizing(**{**GOOD, "context_grid_step": 27, "quick_context_grid_step": 27})


@pytest.mark.parametrize("name, value, heads", [
    # Llama 2 70B has 8 KV heads (config.json num_key_value_heads): 3 GPUs split neither way
    ("n_gpus_for_comparison", 3, "8 KV heads of llama-2-70b"),
    ("n_gpus_options", [1, 2, 6], "8 KV heads of llama-2-70b"),
    # 16 GPUs replicate Llama 2 70B's 8 heads twice, but Llama 2 7B's 32 heads cannot be spread over 80
    ("n_gpus_options", [16, 80], "32 KV heads of llama-2-7b"),
])
def test_a_gpu_count_that_cannot_split_the_kv_heads_is_refused_by_the_chapter_s_name(name, value, heads):
    with pytest.raises(ParameterError) as err:
        check_kv_sizing(**{**GOOD, name: value})
    assert err.value.name == name
    assert heads in str(err.value)
