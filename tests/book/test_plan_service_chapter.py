"""The chapter "Plan your own service" (notebooks/plan_service.ipynb): its code cells run in this process on the
quick profile; every name its text glues is glued, with no NaN, infinity or exponent; the glued figures are the
planner's own (``python -m model.plan --json`` with the service's flags typed from data/services); the what-if
chart computes the table's plans at its starting position; bad chapter parameters stop with one line naming
them.

The chapter's run takes about 8 s on one core, so the tests that read it are marked slow; ``tests/test_notebooks.py``
runs the chapter on its quick profile in every ``make test`` and checks its what-if chart there too."""
import json
import re

import pytest

import model.book.glue
from model.book.build import notebooks
from model.checks import ParameterError

[CHAPTER] = notebooks(["plan_service"])
NB = json.loads(CHAPTER.read_text(encoding="utf-8"))
GLUED_NAMES = sorted({m for c in NB["cells"] if c["cell_type"] == "markdown"
                      for m in re.findall(r"\{glue:text\}`([A-Za-z0-9_]+)`", "".join(c["source"]))})
#: The coding assistant's row of data/services/plan_services.csv, typed as flags.
CODING_FLAGS = ["--sessions", "100000", "--turns-per-session", "20", "--session-minutes", "10",
                "--prompt-tokens", "1500", "--reply-tokens", "13", "--ttft-p95-s", "1",
                "--shared-persona-tokens", "500", "--character-persona-tokens", "1000", "--characters", "10000",
                "--zipf-exponent", "1"]


def run_chapter(tmp_path, monkeypatch, **parameters):
    glued: dict[str, str] = {}
    monkeypatch.setattr(model.book.glue, "glue", lambda name, value, fmt=None: glued.__setitem__(
        name, model.book.glue.glued_text(value, fmt)))
    code = ["".join(c["source"]) for c in NB["cells"] if c["cell_type"] == "code"]
    space = {"display": lambda *a, **k: None}
    exec(compile(code[0], "parameters", "exec"), space)
    space.update({"quick": True, "output_dir": str(tmp_path / "tables"), **parameters})
    (tmp_path / "tables").mkdir()
    for i, src in enumerate(code[1:], 1):
        exec(compile(src, f"plan_service code cell {i}", "exec"), space)
    return glued, space


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    try:
        yield run_chapter(tmp_path_factory.mktemp("plan_service"), mp)
    finally:
        mp.undo()


@pytest.mark.slow
def test_every_glued_name_is_glued_and_finite(default_run):
    glued, _ = default_run
    missing = [n for n in GLUED_NAMES if n not in glued]
    assert not missing, f"names the text glues but the run did not: {missing}"
    bad = {n: v for n, v in glued.items() if re.search(r"\bnan\b|\binf\b|\d[eE][+-]\d", v)}
    assert not bad, bad


@pytest.mark.slow
def test_glued_figures_are_the_planners(default_run, capsys):
    """The coding assistant's GPUs, serving and cost in the findings are those of the command line run with its
    flags; the services the text says disaggregation wins for are those whose plan chose it."""
    from model.plan.cli import main

    glued, space = default_run
    assert main(CODING_FLAGS + ["--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert f"Coding assistant (100,000 sessions): {plan['gpus']:,} GPUs ({plan['fleet']['spare_gpus']:,} of them " \
           f"hot spares) as {'disaggregated' if plan['disaggregated'] else 'aggregated'}" in glued["findings"]
    assert f"${plan['usd_per_million_tokens']:.3g} per million tokens" in glued["findings"]
    chose = {s for s, p in space["plans"].items() if p["disaggregated"]}
    assert glued["dis_services"] == space["plan_view"].names_list(sorted(chose, key=list(space["plans"]).index),
                                                                  article="the ")
    assert glued["n_services"] == "three"
    table = space["table"]
    assert (table["gpus"] == table["prefill_gpus"] + table["decode_gpus"]).where(
        table["serving"] == "disaggregated", True).all()
    assert (table["gpus"] <= table[["aggregated_gpus", "disaggregated_gpus"]].min(axis=1)).all()


@pytest.mark.slow
def test_the_what_if_starts_at_the_table(default_run):
    """At its starting position the page's closed form gives each plan's GPUs and their cost a month."""
    from model.book.sliders import default_mismatches, default_rows

    _, space = default_run
    pv = space["plan_view"]
    chart = pv.plan_what_if_chart(space["rows"], tp_options=space["tp_options"], ttft_step=space["grid_step"],
                                  ttft_max=space["ttft_factor_max"], sessions_step=space["sessions_factor_step"],
                                  sessions_max=space["sessions_factor_max"], expected=space["expected"])
    assert default_mismatches(chart) == []
    rows = default_rows(chart)
    assert [r["gpus"] for r in rows] == list(space["table"]["gpus"])


@pytest.mark.parametrize("parameters, name", [
    ({"services": []}, "services"), ({"services": ["chat"]}, "services"),
    ({"ttft_factor_step": 0.3}, "ttft_factor_step"), ({"ttft_factor_max": 0.5}, "ttft_factor_max"),
    ({"ttft_factor_step": 0.01}, "ttft_factor_max"), ({"sessions_factor_step": 0.0}, "sessions_factor_step"),
    ({"model": "deepseek-v3"}, "gpu"), ({"gpu": "tpu"}, "gpu"), ({"usd_per_gpu_hour": -1.0}, "usd_per_gpu_hour"),
])
def test_bad_parameters_stop_with_one_line_naming_them(parameters, name, tmp_path, monkeypatch):
    with pytest.raises(ParameterError) as exc:
        run_chapter(tmp_path, monkeypatch, **parameters)
    assert exc.value.name == name and "\n" not in str(exc.value)


def test_the_page_formula_is_the_planners_away_from_the_start():
    """The chart's Vega expressions, evaluated at other slider positions, give the planner's own plan run afresh:
    the coding assistant at 2.5 times its sessions and at its own target, and at twice its target (GPUs with the
    default 10% spares, and the choice of serving)."""
    from dataclasses import replace

    from model.book import plan_view
    from model.book.sliders import default_rows
    from model.plan.compose import make_plan
    from model.plan.services import service_inputs
    from model.plan.what_if import replica_rate_grid

    i = service_inputs("coding_assistant")
    plans = {"coding_assistant": make_plan(i)}
    grids = {"coding_assistant": replica_rate_grid(i, [1.0, 2.0], tp_options=plan_view.TP_OPTIONS)}
    rows = plan_view.what_if_rows(grids, plans, tp_options=plan_view.TP_OPTIONS)
    chart = plan_view.plan_what_if_chart(rows, tp_options=plan_view.TP_OPTIONS, ttft_step=1.0, ttft_max=2.0,
                                         sessions_step=0.5, sessions_max=3.0, expected={})
    for k, f in ((2.5, 1.0), (1.0, 2.0), (0.5, 2.0)):
        [row] = default_rows(chart, {"sessions_factor": k, "ttft_factor": f})
        plan = make_plan(replace(i, sessions=i.sessions * k, ttft_p95_s=i.ttft_p95_s * f))
        assert (row["gpus"], row["disaggregated"]) == (plan["gpus"], plan["disaggregated"])
        assert row["usd_per_month"] == pytest.approx(plan["cost"]["by_item_usd_per_month"]["gpus"], rel=1e-12)
