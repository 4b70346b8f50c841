"""The KV-sizing chapter's inputs: its parameters checked in one call, and the KV number formats its
in-page what-if offers (one per byte size)."""

from __future__ import annotations

from collections.abc import Sequence

from model.architectures import available_models
from model.checks import check_choice, check_int
from model.formats import DTYPES, bytes_per_element
from model.hardware import available_gpus
from model.parameters import default


def check_kv_sizing(*, model, gpu, context_tokens, sessions, weight_dtype, kv_dtype, n_gpus_for_comparison,
                    compare_models, context_grid_step, quick_context_grid_step, context_grid_max, n_gpus_options,
                    what_if_kv_dtypes, what_if_context_step, what_if_models=()) -> None:
    """Raise :class:`~model.checks.ParameterError` naming the first bad parameter of the KV-sizing study.

    Parameters
    ----------
    model : str
        Architecture name (``data/models/<model>.json``).
    gpu : str
        GPU name (``data/hardware.csv``).
    context_tokens, sessions : int
        Tokens per session and concurrent sessions, each at least 1.
    weight_dtype, kv_dtype : str
        Number formats of the weights and of the KV cache (:data:`model.formats.DTYPES`).
    n_gpus_for_comparison : int
        GPUs of the tensor-parallel group compared with one GPU, at least 1.
    compare_models : list of str
        Architecture names of the per-token comparison.
    context_grid_step, quick_context_grid_step, context_grid_max : int
        Tokens between points of the sessions-vs-context grid (full and quick profile) and its last point.
    n_gpus_options : list of int
        GPU counts of that grid, each at least 1.
    what_if_kv_dtypes : list of str
        KV number formats offered by the in-page what-if.
    what_if_context_step : int
        Tokens between positions of the what-if's context slider, at least 1.
    what_if_models : list of str
        Further architectures the what-if offers (names of ``data/models``).
    """
    check_choice("model", model, available_models())
    check_choice("gpu", gpu, available_gpus())
    check_int("context_tokens", context_tokens, low=1)
    check_int("sessions", sessions, low=1)
    check_choice("weight_dtype", weight_dtype, DTYPES)
    check_choice("kv_dtype", kv_dtype, DTYPES)
    check_int("n_gpus_for_comparison", n_gpus_for_comparison, low=1)
    for name in compare_models:
        check_choice("compare_models", name, available_models())
    for name in what_if_models:
        check_choice("what_if_models", name, available_models())
    check_int("context_grid_max", context_grid_max, low=1)
    for n_option in n_gpus_options:
        check_int("n_gpus_options", n_option, low=1)
    n_options = len(set(n_gpus_options) | {n_gpus_for_comparison})
    # the chart of sessions vs context has one row per grid point and GPU count: at least one point, and no
    # more rows than a chart takes
    max_rows = int(default("chart_max_rows"))
    finest = -(-context_grid_max * n_options // max_rows)
    for name, step in (("context_grid_step", context_grid_step),
                       ("quick_context_grid_step", quick_context_grid_step)):
        check_int(name, step, low=max(1, finest), high=context_grid_max)
    _check_tp_split(model, compare_models, n_gpus_for_comparison, n_gpus_options)
    for name in what_if_kv_dtypes:
        check_choice("what_if_kv_dtypes", name, DTYPES)
    check_int("what_if_context_step", what_if_context_step, low=1)


def _check_tp_split(model: str, compare_models: Sequence[str], n_gpus_for_comparison: int,
                    n_gpus_options: Sequence[int]) -> None:
    """Every GPU count of the chapter splits the KV heads of the chapter's model and of the compared models as the
    engines split them (:func:`model.kv.size.tp_share`), or the count is refused under its parameter's name."""
    from model.architectures import load_architecture
    from model.checks import ParameterError
    from model.kv.size import tp_share

    names = [model] + [m for m in compare_models if m != model]
    counts = [("n_gpus_for_comparison", n_gpus_for_comparison)] + [("n_gpus_options", n) for n in n_gpus_options]
    for name in names:
        arch = load_architecture(name)
        for parameter, n in counts:
            try:
                for layer in arch.attention_layers():
                    tp_share(layer, n, arch.name)
            except ParameterError as exc:
                raise ParameterError(parameter, n, exc.allowed) from None


def what_if_kv_bytes(kv_dtype: str, offered: Sequence[str]) -> dict[str, float]:
    """The KV number formats a what-if offers, one per byte size, largest first.

    Parameters
    ----------
    kv_dtype : str
        The chapter's KV format; it names its byte size even when an offered format shares it.
    offered : list of str
        Further formats (:data:`model.formats.DTYPES`); the first of each new byte size is kept.

    Returns
    -------
    dict of str to float
        Format name → bytes per element (bytes), in decreasing bytes; ties keep their first-seen order.
    """
    kv_bytes = {kv_dtype: bytes_per_element(kv_dtype, name="kv_dtype")}
    for name in dict.fromkeys(list(offered) + [kv_dtype]):
        b = bytes_per_element(name, name="what_if_kv_dtypes")
        if b not in kv_bytes.values():
            kv_bytes[name] = b
    return dict(sorted(kv_bytes.items(), key=_minus_bytes))


def _minus_bytes(item: tuple[str, float]) -> float:
    return -item[1]


def what_if_architectures(models: list[str], extra: list[str], n_gpus_options: list[int]) -> list:
    """The architectures the what-if chart offers: ``models`` (the chapter's comparison and its model), then those
    of ``extra`` whose KV heads every GPU count of ``n_gpus_options`` can split (:func:`model.kv.size.tp_share`
    refuses the others, as the engines do)."""
    from model.architectures import load_architecture
    from model.checks import ParameterError
    from model.kv.size import tp_share

    archs = [load_architecture(m) for m in models]
    for name in extra:
        if name in models:
            continue
        arch = load_architecture(name)
        try:
            for n in n_gpus_options:
                for layer in arch.attention_layers():
                    tp_share(layer, n, arch.name)
        except ParameterError:
            continue
        archs.append(arch)
    return archs
