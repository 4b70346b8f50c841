import pytest
from numpy.testing import assert_allclose

from model.architectures import available_models, load_architecture
from model.checks import ParameterError

REQUIRED = ["llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b"]


def test_required_models_present():
    assert set(REQUIRED) <= set(available_models())


@pytest.mark.parametrize("name", REQUIRED)
def test_parameter_count_matches_published(name):
    """The count implied by the architecture agrees with the authors' published total (independent figure)."""
    arch = load_architecture(name)
    assert_allclose(arch.parameters(), arch.published_parameters, rtol=0.005)


def test_nominal_sizes():
    # The model names state the size: 7B, 13B, 70B, 8B, 70B (within rounding of the name).
    for name, nominal in [("llama-2-7b", 7e9), ("llama-2-13b", 13e9), ("llama-2-70b", 70e9),
                          ("llama-3-8b", 8e9), ("llama-3-70b", 70e9)]:
        assert_allclose(load_architecture(name).parameters(), nominal, rtol=0.05)


def test_attention_kinds():
    assert load_architecture("llama-2-7b").attention == "MHA"
    assert load_architecture("llama-2-13b").attention == "MHA"
    a70 = load_architecture("llama-2-70b")
    assert a70.attention == "GQA" and a70.num_kv_heads == 8 and a70.gqa_group_size == 8
    assert a70.max_context_tokens == 4096 and a70.num_layers == 80 and a70.head_dim == 128


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ParameterError, match=r"model='gpt-5'.*llama-2-70b"):
        load_architecture("gpt-5")
