import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture
from model.formats import BITS_PER_ELEMENT, COMPUTE_TYPE, DTYPES, bytes_per_element, weight_bytes
from model.checks import ParameterError


def test_bytes_per_element_are_the_format_definitions():
    # fp4 is NVFP4: 4-bit values plus one 8-bit (E4M3) scale per 16 values = 4.5 bits = 0.5625 bytes
    expected = {"fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1, "int4": 0.5, "fp4": 4.5 / 8}
    assert {d: bytes_per_element(d) for d in DTYPES} == expected
    assert set(COMPUTE_TYPE) == set(BITS_PER_ELEMENT)


def test_unknown_format_names_the_parameter():
    with pytest.raises(ParameterError, match="kv_dtype"):
        bytes_per_element("fp12", name="kv_dtype")
    with pytest.raises(ParameterError, match="weight_dtype"):
        weight_bytes(load_architecture("llama-2-7b"), "fp12")


def test_weight_bytes_by_hand():
    a = load_architecture("llama-2-70b")
    # 80 layers x (8192*8192*2 q/o + 2*8192*1024 k/v + 3*8192*28672 MLP + 2*8192 norms) + 2*32000*8192 + 8192
    per_layer = 2 * 8192 * 8192 + 2 * 8192 * 1024 + 3 * 8192 * 28672 + 2 * 8192
    params = 80 * per_layer + 2 * 32000 * 8192 + 8192
    assert_allclose(weight_bytes(a, "fp16"), 2 * params, rtol=0)
    assert_allclose(weight_bytes(a, "int4"), params / 2, rtol=0)


def test_old_import_paths_still_work():
    from model import kv
    from model.quantization import weights as quantization
    assert quantization.bytes_per_element is bytes_per_element
    assert quantization.weight_bytes is weight_bytes
    assert quantization.DTYPES is DTYPES and quantization.COMPUTE_TYPE is COMPUTE_TYPE
    assert kv.bytes_per_element is bytes_per_element


def test_defaults_and_error_names_by_hand():
    a = load_architecture("llama-2-7b")
    assert weight_bytes(a) == 2 * a.parameters()                     # FP16 by default
    with pytest.raises(ParameterError, match=r"^dtype='fp12' is not allowed: dtype must be one of 'fp32', 'fp16', "
                                             r"'bf16', 'fp8', 'int8', 'int4', 'fp4'$"):
        bytes_per_element("fp12")
    with pytest.raises(ParameterError, match=r"^weight_dtype='fp12' "):
        weight_bytes(a, "fp12")
