"""model.kv.sizing by hand: each lower bound of the KV-sizing chapter's parameters accepted at its edge, the first
bad parameter named when two are bad, the value and name in each refusal, the byte order of the what-if's KV
formats and the architectures its chart offers."""
import pytest

from model.checks import ParameterError
from model.kv.sizing import check_kv_sizing, what_if_architectures, what_if_kv_bytes

GOOD = dict(model="llama-2-70b", gpu="a100-80gb", context_tokens=10_000, sessions=1_000_000, weight_dtype="fp16",
            kv_dtype="fp16", n_gpus_for_comparison=8, compare_models=["llama-2-7b", "llama-3-70b"],
            context_grid_step=1024, quick_context_grid_step=4096, context_grid_max=32768, n_gpus_options=[1, 2, 4, 8],
            what_if_kv_dtypes=["fp16", "fp8", "int4"], what_if_context_step=1000)


@pytest.mark.parametrize("changes", [
    {"context_tokens": 1}, {"sessions": 1}, {"what_if_context_step": 1},
    # one GPU for the comparison and as the only option: 1 divides every head count
    {"n_gpus_for_comparison": 1, "n_gpus_options": [1]},
    # a grid of one point: ceil(1 token x 4 GPU counts / 5,000 rows) = 1, so the steps may be 1 (and no more)
    {"context_grid_max": 1, "context_grid_step": 1, "quick_context_grid_step": 1},
])
def test_each_lower_bound_is_accepted_at_its_edge(changes):
    assert check_kv_sizing(**{**GOOD, **changes}) is None


@pytest.mark.parametrize("changes, first", [
    # checked in the order of the signature: a GPU count of 0 is named before a bad grid step
    ({"n_gpus_for_comparison": 0, "context_grid_step": 0}, "n_gpus_for_comparison"),
    ({"n_gpus_options": [1, 0], "context_grid_step": 0}, "n_gpus_options"),
])
def test_the_first_bad_parameter_is_named(changes, first):
    with pytest.raises(ParameterError) as err:
        check_kv_sizing(**{**GOOD, **changes})
    assert err.value.name == first
    assert err.value.value == 0
    assert err.value.allowed == "an integer in [1, inf]"


def test_a_what_if_model_that_does_not_exist_is_named():
    with pytest.raises(ParameterError) as err:
        check_kv_sizing(**GOOD, what_if_models=["llama-2-7b", "no-such-model"])
    assert (err.value.name, err.value.value) == ("what_if_models", "no-such-model")
    assert "'llama-2-70b'" in err.value.allowed and err.value.allowed.startswith("one of ")


def test_a_gpu_count_that_splits_no_heads_is_refused_with_its_value():
    # Llama 2 70B: 8 KV heads; 3 is neither a divisor nor a multiple of 8
    with pytest.raises(ParameterError) as err:
        check_kv_sizing(**{**GOOD, "n_gpus_for_comparison": 3})
    assert (err.value.name, err.value.value) == ("n_gpus_for_comparison", 3)
    assert err.value.allowed == "a divisor or a multiple of the 8 KV heads of llama-2-70b"


def test_what_if_formats_sorted_by_bytes_not_by_name():
    # int8 is 8 bits = 1 byte, fp4 is 4 + 8/16 = 4.5 bits = 0.5625 byte: int8 first, though "fp4" < "int8"
    out = what_if_kv_bytes("int8", ["fp4"])
    assert list(out.items()) == [("int8", 1.0), ("fp4", 0.5625)]


@pytest.mark.parametrize("kv_dtype, offered, name", [("fp3", [], "kv_dtype"), ("fp16", ["fp3"], "what_if_kv_dtypes")])
def test_a_bad_what_if_format_is_named_by_its_parameter(kv_dtype, offered, name):
    with pytest.raises(ParameterError) as err:
        what_if_kv_bytes(kv_dtype, offered)
    assert (err.value.name, err.value.value) == (name, "fp3")


def test_what_if_architectures_keep_those_every_gpu_count_splits():
    # Llama 2 13B has 40 KV heads: 16 GPUs neither divide 40 nor are a multiple of it, so it is left out;
    # Llama 2 7B (32 heads: 16 divides them) is kept after it, and Llama 2 70B, already among the models, is
    # not added twice
    archs = what_if_architectures(["llama-2-70b"], ["llama-2-13b", "llama-2-70b", "llama-2-7b"], [1, 16])
    assert [a.name for a in archs] == ["llama-2-70b", "llama-2-7b"]
    # every count splits every model: all are kept, in order
    archs = what_if_architectures(["llama-2-7b", "llama-3-70b"], ["llama-2-13b"], [1, 2])
    assert [a.name for a in archs] == ["llama-2-7b", "llama-3-70b", "llama-2-13b"]
    assert what_if_architectures([], [], [1]) == []
