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
