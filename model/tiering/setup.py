"""The serving setup a replay is timed and priced with (model, GPU, GPUs per instance, instances, GPU-hour
price), checked under the names the caller's user typed, and described for output."""

from __future__ import annotations

import math
from collections.abc import Mapping

from model.validation import ParameterError, check_choice, check_int, check_nonnegative

#: Internal names of the setup's fields (as :func:`check_setup` and :func:`describe_setup` call them).
SETUP_FIELDS = ("model", "gpu", "gpus_per_instance", "n_instances", "gpu_usd_per_hour")


def renamed(exc: ParameterError, names: Mapping[str, str]) -> ParameterError:
    """``exc`` with its parameter named as the user typed it (``names``: internal name → user's name)."""
    name = names.get(exc.name, exc.name)
    return ParameterError(name, exc.value, exc.allowed.replace(exc.name, name))


def check_setup(model: str, gpu: str, gpus_per_instance: int, n_instances: int,
                gpu_usd_per_hour: float | None = None, *, names: Mapping[str, str] | None = None) -> None:
    """Raise a :class:`ParameterError` naming the user's parameter (``names`` maps :data:`SETUP_FIELDS` to
    them) unless ``model`` and ``gpu`` are known (``data/models``, ``data/hardware.csv``), the counts are
    integers >= 1, the model's weights fit in one instance, and the GPU has a price (``data/prices``) or
    one is given (>= 0, US dollars per GPU-hour)."""
    from model.architectures import available_models
    from model.batching import deployment
    from model.hardware import available_gpus

    n = dict(zip(SETUP_FIELDS, SETUP_FIELDS)) | dict(names or {})
    check_choice(n["model"], model, available_models())
    check_choice(n["gpu"], gpu, available_gpus())
    check_int(n["gpus_per_instance"], gpus_per_instance, low=1)
    check_int(n["n_instances"], n_instances, low=1)
    if gpu_usd_per_hour is not None:
        check_nonnegative(n["gpu_usd_per_hour"], gpu_usd_per_hour)
    try:
        deployment(model, gpu, gpus_per_instance)
    except ParameterError as exc:
        raise renamed(exc, {"n_gpus": n["gpus_per_instance"]}) from None
    if gpu_usd_per_hour is None:
        from model.tiering.engine import gpu_price_usd_per_hour

        try:
            gpu_price_usd_per_hour(gpu)
        except ParameterError as exc:
            raise ParameterError(n["gpu_usd_per_hour"], None,
                                 f"given: data/prices has no default price of {gpu} ({exc.allowed})") from None


def describe_setup(config, *, model: str, gpu: str, price_given: bool = False) -> dict:
    """The serving setup of ``config`` (a :class:`model.tiering.TierConfig`) for output: model, GPU, GPUs per
    instance, instances, GPUs in all, GPU-hour price and where it comes from, and each tier's capacity
    (blocks, GB), read bandwidth (GB/s) and price ($/GB-month)."""
    from model.tiering.engine import gpu_price_row

    e = config.engine
    price_source = "given" if price_given else f"data/prices/gpu_prices.csv: {gpu_price_row(gpu).label}"
    tiers = {}
    for t, gb in zip(config.tiers, config.capacity_gb()):
        tiers[t.name] = {"capacity_blocks": None if t.capacity_blocks == math.inf else int(t.capacity_blocks),
                         "capacity_gb": None if not math.isfinite(gb) else float(gb),
                         "read_gb_per_s": t.read_bytes_per_s / 1e9, "usd_per_gb_month": t.usd_per_gb_month}
    return {"model": model, "gpu": gpu, "gpus_per_instance": e.gpus_per_instance, "instances": e.n_instances,
            "gpus": e.n_gpus, "gpu_usd_per_hour": e.gpu_usd_per_hour, "gpu_price_source": price_source,
            "block_tokens": config.block_tokens, "kv_bytes_per_token": e.kv_bytes_per_token, "tiers": tiers}


def check_capacity_grid(name: str, values) -> list:
    """``values`` as a list if it is a list of at least two numbers >= 0 (capacities, GB), else a
    :class:`ParameterError` naming ``name``."""
    if not isinstance(values, (list, tuple)) or len(values) < 2:
        raise ParameterError(name, values, "a list of at least two capacities >= 0 (GB)")
    return [check_nonnegative(f"{name}[{i}]", v) for i, v in enumerate(values)]
