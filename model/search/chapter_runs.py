"""The tier-configuration chapter's runs (notebooks/kareto.ipynb): its parameter checks and, per trace, the
exhaustive grid beside the diminishing-returns search, both through the study's sweep engine."""
from __future__ import annotations

from pathlib import Path

from model.architectures import available_models
from model.checks import ParameterError, check_choice, check_int, check_nonnegative, check_positive
from model.economics.prices import gpu_price
from model.hardware import available_gpus
from model.search import pareto
from model.search.evaluations import EXECUTORS, Sweep
from model.search.tier_search import OBJECTIVES, QUICK_HBM_SHARES, ServingSetup, search_space
from model.serving.load_sweep import checked_deployment
from model.workload import CharacterChatParams, Trace, character_chat_trace


def check_kareto(*, model_name, gpu, n_gpus, slo_ttft_p95_s, gpu_usd_per_hour, chat_concurrent_sessions,
                 chat_seed, threshold, beam, executor, workers):
    """Check the tier-configuration chapter's parameters and return the GPU price they select.

    Raises :class:`~model.checks.ParameterError` naming the first bad parameter, in the chapter's order.

    Parameters
    ----------
    model_name, gpu : str
        Architecture (``data/models``) and GPU (``data/hardware.csv``) names.
    n_gpus : int
        GPUs of the prefill replica, at least 1.
    slo_ttft_p95_s : float
        P95 TTFT target, s, positive.
    gpu_usd_per_hour : float or None
        USD per GPU-hour (None: the GPU's AWS on-demand row of ``data/prices/gpu_prices.csv``).
    chat_concurrent_sessions, chat_seed : int
        Concurrent sessions (at least 1) and generator seed (at least 0) of the character-chat workload.
    threshold : float or None
        Minimum elasticity of a worthwhile step, at least 0 (None: the default).
    beam : int or None
        Steps followed per round, at least 1 (None: the default).
    executor : str
        One of :data:`model.search.evaluations.EXECUTORS`.
    workers : int
        Processes of the local pool, at least 1.

    Returns
    -------
    model.economics.prices.GpuPrice
        The price per GPU-hour (USD) the chapter charges.
    """
    check_choice("model_name", model_name, available_models())
    check_choice("gpu", gpu, available_gpus())
    check_int("n_gpus", n_gpus, low=1)
    check_positive("slo_ttft_p95_s", slo_ttft_p95_s)
    price = gpu_price(gpu, usd_per_gpu_hour=gpu_usd_per_hour,  # the AWS on-demand row, or gpu_usd_per_hour when set
                      names={"usd_per_gpu_hour": "gpu_usd_per_hour", "provider": None, "pricing": None})
    check_int("chat_concurrent_sessions", chat_concurrent_sessions, low=1)
    check_int("chat_seed", chat_seed, low=0)
    if threshold is not None:
        check_nonnegative("threshold", threshold)
    if beam is not None:
        check_int("beam", beam, low=1)
    check_choice("executor", executor, EXECUTORS)
    check_int("workers", workers, low=1)
    checked_deployment(model_name, gpu, n_gpus)      # the weights fit and the KV heads split over the GPUs
    setup = ServingSetup(model=model_name, gpu=gpu, n_gpus=n_gpus, slo_ttft_p95_s=slo_ttft_p95_s, price=price)
    try:
        for shares in (None, QUICK_HBM_SHARES):                  # the full and the quick grid of HBM caches
            search_space(setup, **({} if shares is None else {"hbm_shares": shares}))
    except ParameterError as exc:
        if exc.name != "axis hbm_gb":
            raise
        raise ParameterError("n_gpus", n_gpus, f"enough {gpu} GPUs for {model_name}'s weights to leave HBM for "
                             f"a grid of KV caches (they leave {setup.free_hbm_gb():.1f} GB)") from None
    return price


def chat_trace(concurrent_sessions: int, seed: int, *, max_sessions: int | None = None) -> Trace:
    """The chapter's character-chat workload (:func:`model.workload.character_chat_trace` at
    ``concurrent_sessions`` and ``seed``, at most ``max_sessions`` sessions).

    Raises
    ------
    ParameterError
        naming ``chat_concurrent_sessions`` when no session starts in the generator's window (a handful of
        concurrent sessions: whether one starts is the seed's draw).
    """
    params = CharacterChatParams(concurrent_sessions=concurrent_sessions)
    try:
        return character_chat_trace(params, seed=seed, max_sessions=max_sessions)
    except ParameterError as exc:
        if exc.name != "duration_s":
            raise
        raise ParameterError("chat_concurrent_sessions", concurrent_sessions,
                             f"enough sessions for one to start within {params.duration_s:g} s "
                             f"(none did with chat_seed={seed})") from None


def run_trace(evaluator, space, baseline: dict, *, name: str, output_dir, executor: str = "serial",
              workers: int = 1, address=None, threshold=None, beam=None, objectives=OBJECTIVES) -> dict:
    """Evaluate one trace's exhaustive grid and its diminishing-returns search.

    Parameters
    ----------
    evaluator : callable
        Deterministic, picklable evaluation of one configuration (a dict of capacities, GB), with a
        ``fingerprint`` attribute naming the results file.
    space : model.search.pareto.SearchSpace
        The capacities searched (GB per tier).
    baseline : dict
        The baseline configuration (GB per tier).
    name : str
        The trace's name, shown in the progress description.
    output_dir : str or path
        Directory of the resumable results file ``kareto_sweep_<fingerprint>.jsonl`` (created if missing).
    executor, workers, address
        The grid sweep's engine (:class:`model.search.evaluations.Sweep`); the search itself runs serially.
    threshold, beam : float, int or None
        Minimum elasticity of a worthwhile step and steps followed per round (None: the defaults).
    objectives : sequence
        The objectives (throughput at the SLO, requests/s; P95 TTFT, s; USD per million prompt tokens).

    Returns
    -------
    dict
        ``evaluator``; ``exhaustive`` and ``pruned`` (tables of evaluations, one row per configuration);
        ``baseline`` (the baseline's evaluation).
    """
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    results = Path(output_dir) / f"kareto_sweep_{evaluator.fingerprint}.jsonl"
    with Sweep(evaluator, executor=executor, workers=workers, address=address, results=results) as sweep:
        exhaustive = sweep.run(space.grid(), desc=f"{name}: grid")
    with Sweep(evaluator, executor="serial", progress=False) as serial:
        searched = pareto.diminishing_returns_search(space, serial.run, objectives, threshold=threshold, beam=beam)
    return dict(evaluator=evaluator, exhaustive=exhaustive, pruned=searched.results, baseline=evaluator(baseline))
