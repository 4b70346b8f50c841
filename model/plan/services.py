"""Services to plan, read from ``data/services/plan_services.csv``: one row per service and input
(``service, input, value, unit, source``), an input being a field of :class:`~model.plan.inputs.PlanInputs`; what a
service does not list keeps the planner's default.
"""

from __future__ import annotations

from dataclasses import fields, replace
from functools import lru_cache

import pandas as pd

from model.checks import ParameterError
from model.io import DATA
from model.plan.inputs import PlanInputs

SERVICES_CSV = DATA / "services" / "plan_services.csv"
#: Inputs read as whole numbers (the others as floats).
INTEGER_INPUTS = ("prompt_tokens", "reply_tokens", "shared_persona_tokens", "character_persona_tokens",
                  "characters", "max_batch", "chunk_tokens", "node_gpus")


@lru_cache(maxsize=1)
def services_table() -> pd.DataFrame:
    """``data/services/plan_services.csv``: service, input, value, unit, source.

    Raises
    ------
    ValueError
        If a row names an input :class:`PlanInputs` has not, or a service lists an input twice.
    """
    table = pd.read_csv(SERVICES_CSV)
    names = {f.name for f in fields(PlanInputs)}
    unknown = sorted(set(table["input"]) - names)
    if unknown:
        raise ValueError(f"{SERVICES_CSV.name}: unknown inputs {unknown}")
    dup = table[table.duplicated(["service", "input"])]
    if len(dup):
        raise ValueError(f"{SERVICES_CSV.name}: inputs listed twice {dup[['service', 'input']].values.tolist()}")
    return table


def available_services() -> list[str]:
    """Service names in the table's order."""
    return list(dict.fromkeys(services_table()["service"]))


def check_services(services, *, name: str = "services") -> list[str]:
    """``services`` as a list of known service names, each once.

    Raises
    ------
    ParameterError
        naming ``name`` when the list is empty, not a list, repeats a service or names an unknown one.
    """
    known = available_services()
    allowed = "a non-empty list of distinct services of data/services/plan_services.csv: " + ", ".join(known)
    if isinstance(services, str) or not isinstance(services, (list, tuple)) or not services:
        raise ParameterError(name, services, allowed)
    if len(set(services)) != len(services) or any(s not in known for s in services):
        raise ParameterError(name, services, allowed)
    return list(services)


def service_values(service: str) -> dict:
    """The inputs ``service`` sets, typed (whole numbers for token counts and counts, floats for the rest)."""
    rows = services_table()[services_table()["service"] == service]
    if rows.empty:
        raise ParameterError("service", service, "one of " + ", ".join(available_services()))
    return {r.input: (int(r.value) if r.input in INTEGER_INPUTS else float(r.value)) for r in rows.itertuples()}


def service_inputs(service: str, base: PlanInputs | None = None) -> PlanInputs:
    """``base`` (default: the planner's defaults) with ``service``'s inputs set."""
    return replace(base or PlanInputs(), **service_values(service))


#: A plan's own names and flags for the model, GPU and price, and the keyword of :func:`plan_services` a refusal
#: of each is reported under.
CHOSEN_NAMES = {"gpu": "gpu", "--gpu": "gpu", "model": "model", "name": "model", "--gpu-provider": "gpu_provider",
                 "provider": "gpu_provider", "--gpu-pricing": "gpu_pricing", "pricing": "gpu_pricing",
                 "--gpu-usd-per-hour": "usd_per_gpu_hour", "usd_per_gpu_hour": "usd_per_gpu_hour",
                 "gpu_usd_per_hour": "usd_per_gpu_hour"}


def hardware_inputs(service: str, *, model: str, gpu: str, gpu_provider: str, gpu_pricing: str,
                   usd_per_gpu_hour: float | None) -> PlanInputs:
    """``service``'s inputs on ``model`` and ``gpu`` at the chosen price (the planner's defaults otherwise), with
    tensor-parallel replicas inside a node only (``max_nodes_per_replica`` 0): the chapter's what-if recomputes the
    plan from the tensor-parallel options' rates, so the plan it starts from must use the same options."""
    return service_inputs(service, PlanInputs(model=model, gpu=gpu, gpu_provider=gpu_provider,
                                              gpu_pricing=gpu_pricing, gpu_usd_per_hour=usd_per_gpu_hour,
                                              max_nodes_per_replica=0))


def plan_services(services, **chosen) -> dict:
    """The plan (:func:`model.plan.compose.make_plan`) of each of ``services`` with ``chosen``
    (:func:`hardware_inputs`'s keywords), in order.

    Raises
    ------
    ParameterError
        naming one of ``chosen``'s keys: a plan's refusal is reported under the parameter that caused it (an
        unknown GPU or one that cannot hold the model: ``gpu``; a price row: ``gpu_provider``/``gpu_pricing``;
        a prompt longer than the model's context or a target below the zero-load floor of every replica the
        model and GPU make: ``model``, with the service and the plan's reason).
    """
    from model.plan.compose import make_plan

    plans = {}
    for s in check_services(services):
        try:
            plans[s] = make_plan(hardware_inputs(s, **chosen))
        except ParameterError as exc:
            name = CHOSEN_NAMES.get(str(exc.name), "model")
            if name in chosen and name != "model":
                raise ParameterError(name, chosen[name], exc.allowed) from None
            raise ParameterError("model", chosen["model"],
                                 f"a model that serves the {s.replace('_', ' ')} on {chosen['gpu']} "
                                 f"({exc})") from None
    return plans
