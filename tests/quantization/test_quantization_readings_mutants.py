"""model.quantization.readings, hand-worked cases for its mutants: each parameter named in full with its allowed
range (model.checks.ParameterError's message), the order of the checks, the formats added, the legend labels and
the bound compared strictly."""
import pandas as pd
import pytest

from model.checks import ParameterError
from model.quantization import readings as r

GOOD = dict(model="llama-2-70b", gpu="a100-80gb", context_tokens=10_000, quantized_dtype="int8", decode_batch=None,
            price_label=None, fleet_gpus=1000, batches=[1, 2, 4], quick_batches=2)
INT1 = "an integer in [1, inf]"


@pytest.mark.parametrize("name, value, shown, allowed", [
    ("context_tokens", 0, 0, INT1),
    ("quantized_dtype", "fp16", "fp16", "one of 'int8', 'fp8', 'int4', 'fp4'"),
    ("decode_batch", 0, 0, INT1), ("price_label", 3, 3, "None or a text"), ("fleet_gpus", 0, 0, INT1),
    ("batches", [], [], "a non-empty list of batch sizes, each a whole number ≥ 1"),
    ("batches", [2, 0], 0, INT1), ("quick_batches", 0, 0, INT1)])
def test_each_parameter_is_named_with_its_range(name, value, shown, allowed):
    with pytest.raises(ParameterError) as err:
        r.check_quantization(**GOOD | {name: value})
    assert str(err.value) == f"{name}={shown!r} is not allowed: {name} must be {allowed}"


def test_choices_and_order():
    for name in ("model", "gpu"):
        with pytest.raises(ParameterError, match=rf"^{name}='nope' is not allowed: {name} must be one of "):
            r.check_quantization(**GOOD | {name: "nope"})
    for kw, named in [({"model": "nope", "gpu": "nope"}, "model"), ({"gpu": "nope", "context_tokens": 0}, "gpu"),
                      ({"context_tokens": 0, "quantized_dtype": "x"}, "context_tokens"),
                      ({"quantized_dtype": "x", "decode_batch": 0}, "quantized_dtype"),
                      ({"decode_batch": 0, "price_label": 3}, "decode_batch"),
                      ({"price_label": 3, "fleet_gpus": 0}, "price_label"),
                      ({"fleet_gpus": 0, "batches": []}, "fleet_gpus"),
                      ({"batches": [0], "quick_batches": 0}, "batches")]:
        with pytest.raises(ParameterError) as err:
            r.check_quantization(**GOOD | kw)
        assert err.value.name == named, kw
    for q in ("int8", "fp8", "int4", "fp4"):
        r.check_quantization(**GOOD | {"quantized_dtype": q, "decode_batch": 1, "fleet_gpus": 1, "batches": [1],
                                       "quick_batches": 1, "context_tokens": 1, "price_label": ""})


def test_with_format_appends_only_a_missing_format():
    assert r.with_format(("int8", "fp8", "int4"), "fp8") == ("int8", "fp8", "int4")
    assert r.with_format(("int8", "fp8", "int4"), "fp4") == ("int8", "fp8", "int4", "fp4")
    assert r.BOUND_FORMATS == ("int8", "fp8", "int4") and r.FOOTPRINT_FORMATS == ("fp16", "fp8", "int8", "int4")
    assert r.QUANTIZED_DTYPES == ("int8", "fp8", "int4", "fp4")


def test_labels():
    assert r.WIDTH_LABEL == {8: "8-bit (INT8, FP8)", 4: "4-bit (INT4)"}
    assert r.DTYPE_LABEL == {"int8": "8-bit (INT8, FP8)", "fp8": "8-bit (INT8, FP8)", "int4": "4-bit (INT4)",
                             "fp4": "4.5-bit (NVFP4 with its block scales)"}


def test_a_point_at_its_bound_is_not_above_it_and_the_input_is_left_alone():
    lines = pd.DataFrame({"weights": ["8-bit (INT8, FP8)", "8-bit (INT8, FP8)"], "speedup_bound": [1.5, 2.0]})
    raw = pd.DataFrame({"weight_bits": [8, 8], "hardware": ["h100", "a100"], "speedup": [2.0, 2.01], "batch": [1, 1]})
    pts = r.measured_points(raw)
    assert list(raw.columns) == ["weight_bits", "hardware", "speedup", "batch"]     # a copy was changed
    assert r.points_above_bound(pts, lines) == 1                    # 2.0 equals the top bound 2.0; 2.01 is above
    assert r.decode_batch_used(1, None) == 1 and r.decode_batch_used(5, 1) == 1


def test_batch_ticks_when_the_largest_batch_is_a_power_of_two():
    # largest 8 = 0b1000, 4 bits: 1, 2, 4, 8
    assert r.batch_ticks(pd.DataFrame({"batch": [8]}), [2]) == [1, 2, 4, 8]
    assert r.batch_ticks(pd.DataFrame({"batch": [3]}), [16]) == [1, 2, 4, 8, 16]
