"""The serving setup a replay is timed and priced with (model, GPU, GPUs per instance, instances, GPU-hour
price), checked under the names the caller's user typed, and described for output."""

from __future__ import annotations

import math
from collections.abc import Mapping

from model.economics.prices import GpuPrice, gpu_price
from model.checks import ParameterError, check_choice, check_int, check_nonnegative

#: Internal names of the setup's fields (as :func:`check_setup` and :func:`describe_setup` call them).
SETUP_FIELDS = ("model", "gpu", "gpus_per_instance", "n_instances", "gpu_usd_per_hour")


def renamed(exc: ParameterError, names: Mapping[str, str]) -> ParameterError:
    """``exc`` with its parameter named as the user typed it (``names``: internal name → user's name)."""
    name = names.get(exc.name, exc.name)
    return ParameterError(name, exc.value, exc.allowed.replace(exc.name, name))


def check_setup(model: str, gpu: str, gpus_per_instance: int, n_instances: int,
                gpu_usd_per_hour: float | None = None, *, names: Mapping[str, str] | None = None) -> GpuPrice:
    """The GPU-hour price of the setup (:func:`model.economics.prices.gpu_price`: ``gpu_usd_per_hour`` if given, else
    the GPU's AWS on-demand row of ``data/prices/gpu_prices.csv``), once ``model`` and ``gpu`` are known
    (``data/models``, ``data/hardware.csv``), the counts are integers >= 1 and the model's weights fit in
    one instance, whose tensor-parallel GPUs split its KV heads; otherwise a :class:`ParameterError` naming the
    user's parameter (``names`` maps :data:`SETUP_FIELDS` to them)."""
    from model.architectures import available_models
    from model.hardware import available_gpus
    from model.serving.step_time import deployment

    n = dict(zip(SETUP_FIELDS, SETUP_FIELDS)) | dict(names or {})
    check_choice(n["model"], model, available_models())
    check_choice(n["gpu"], gpu, available_gpus())
    check_int(n["gpus_per_instance"], gpus_per_instance, low=1)
    check_int(n["n_instances"], n_instances, low=1)
    try:
        deployment(model, gpu, gpus_per_instance).kv_bytes_per_token   # the weights fit, the KV heads split
    except ParameterError as exc:
        raise renamed(exc, {"n_gpus": n["gpus_per_instance"], "tp": n["gpus_per_instance"]}) from None
    return gpu_price(gpu, usd_per_gpu_hour=gpu_usd_per_hour,
                     names={"gpu": n["gpu"], "usd_per_gpu_hour": n["gpu_usd_per_hour"], "provider": None,
                            "pricing": None})


def describe_setup(config, *, model: str, gpu: str, price: GpuPrice, nodes: int = 1) -> dict:
    """The serving setup of ``config`` (a :class:`model.tiering.TierConfig`, one node) on ``nodes`` nodes for
    output, every figure named with its scope: model, GPU, GPUs per prefill instance, instances per node, GPUs
    per node and in the fleet, the GPU-hour price and where ``price`` (the one ``config`` is charged at, e.g.
    from :func:`check_setup`) comes from, and each tier's capacity per node (blocks, GB), read bandwidth per
    instance (GB/s) and price ($/GB-month)."""
    from model.tiering.fleet import fleet_gpus

    e = config.engine
    price_source = "given" if price.set_by_user else f"data/prices/gpu_prices.csv: {price.label}"
    tiers = {}
    for t, gb in zip(config.tiers, config.capacity_gb()):
        tiers[t.name] = {"capacity_blocks_per_node": None if t.capacity_blocks == math.inf else int(t.capacity_blocks),
                         "capacity_gb_per_node": None if not math.isfinite(gb) else float(gb),
                         "read_gb_per_s_per_instance": t.read_bytes_per_s / 1e9,
                         "usd_per_gb_month": t.usd_per_gb_month}
    return {"model": model, "gpu": gpu, "gpus_per_instance": e.gpus_per_instance, "instances_per_node": e.n_instances,
            "gpus_per_node": e.n_gpus, "nodes": nodes, "gpus": fleet_gpus(nodes, config),
            "gpu_usd_per_hour": e.gpu_usd_per_hour, "gpu_price_source": price_source,
            "block_tokens": config.block_tokens, "kv_bytes_per_token": e.kv_bytes_per_token, "tiers": tiers}


def check_capacity_grid(name: str, values) -> list:
    """``values`` as a list if it is a list of at least two numbers >= 0 (capacities, GB), else a
    :class:`ParameterError` naming ``name``."""
    if not isinstance(values, (list, tuple)) or len(values) < 2:
        raise ParameterError(name, values, "a list of at least two capacities >= 0 (GB)")
    return [check_nonnegative(f"{name}[{i}]", v) for i, v in enumerate(values)]
