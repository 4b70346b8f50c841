"""model.quantization.readings: the chapter's parameter check naming the bad parameter, the decode batch
of the bound, and the chart's lines and points grouped by weight width, against hand-made inputs."""
import pandas as pd
import pytest

from model.checks import ParameterError
from model.quantization import readings as r

GOOD = dict(model="llama-2-70b", gpu="a100-80gb", context_tokens=10_000, quantized_dtype="int8", decode_batch=None,
            price_label=None, fleet_gpus=1000, batches=[1, 2, 4], quick_batches=2)


def test_check_quantization_accepts_the_defaults_and_names_the_bad_parameter():
    r.check_quantization(**GOOD)
    r.check_quantization(**GOOD | {"decode_batch": 8, "price_label": "a quote"})
    for name, bad in [("model", "no-such-model"), ("gpu", "no-such-gpu"), ("context_tokens", 0),
                      ("quantized_dtype", "fp16"), ("decode_batch", 0), ("price_label", 3), ("fleet_gpus", 0),
                      ("batches", [1, 0]), ("batches", []), ("quick_batches", 0)]:
        with pytest.raises(ParameterError, match=name):
            r.check_quantization(**GOOD | {name: bad})


def test_decode_batch_used_is_the_sessions_that_fit_unless_set():
    assert r.decode_batch_used(12, None) == 12
    assert r.decode_batch_used(0, None) == 1
    assert r.decode_batch_used(12, 3) == 3


def test_bound_lines_one_row_per_width_and_batch():
    bounds = pd.DataFrame({"weight_dtype": ["int8", "fp8", "int4", "int8", "fp8", "int4"],
                           "batch": [1, 1, 1, 2, 2, 2], "speedup_bound": [2.0, 2.0, 4.0, 1.9, 1.9, 3.5]})
    lines = r.bound_lines(bounds)
    assert list(zip(lines["weights"], lines["batch"])) == [("8-bit (INT8, FP8)", 1), ("4-bit (INT4)", 1),
                                                          ("8-bit (INT8, FP8)", 2), ("4-bit (INT4)", 2)]
    points = r.measured_points(pd.DataFrame({"weight_bits": [8, 4, 8], "hardware": ["a100", "h100", "a100"],
                                             "speedup": [2.5, 3.0, 0.9], "batch": [1, 64, 200]}))
    assert list(points["weights"]) == ["8-bit (INT8, FP8)", "4-bit (INT4)", "8-bit (INT8, FP8)"]
    assert list(points["gpu"]) == ["A100", "H100", "A100"]
    assert r.points_above_bound(points, lines) == 1  # 2.5× above the 8-bit top of 2.0×; 3.0× below 4.0×


def test_batch_ticks_powers_of_two_up_to_the_largest_batch():
    assert r.batch_ticks(pd.DataFrame({"batch": [1, 200]}), [1, 2, 4]) == [1, 2, 4, 8, 16, 32, 64, 128]
    assert r.batch_ticks(pd.DataFrame({"batch": [1, 2]}), [1, 8]) == [1, 2, 4, 8]
