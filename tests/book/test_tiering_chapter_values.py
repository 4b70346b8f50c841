"""The tiering chapter at Mooncake instance counts a reader would pick, not only its default of 8: its code
cells run in this process on the quick profile (no kernel), and every name its text glues is glued, with no
NaN, infinity or exponent in the text.

With 4 or 6 instances the DRAM sweep's cost per million tokens is not monotonic, the branch that read a
column only the combined sweep table has (``KeyError: 'capacity_gb_per_instance'``)."""
import json
import re

import pytest

import model.book.glue
from model.book.build import notebooks

[TIERING] = notebooks(["tiering"])
NB = json.loads(TIERING.read_text(encoding="utf-8"))
#: {glue:text}`name` of this page (not other.ipynb::name)
GLUED_NAMES = sorted({m for c in NB["cells"] if c["cell_type"] == "markdown"
                      for m in re.findall(r"\{glue:text\}`([A-Za-z0-9_]+)`", "".join(c["source"]))})


def run_tiering(tmp_path, monkeypatch, **parameters) -> dict[str, str]:
    """Run the chapter's code cells in this process with ``parameters`` (quick profile); the glued texts."""
    glued: dict[str, str] = {}
    monkeypatch.setattr(model.book.glue, "glue", lambda name, value, fmt=None: glued.__setitem__(
        name, model.book.glue.glued_text(value, fmt)))
    code = ["".join(c["source"]) for c in NB["cells"] if c["cell_type"] == "code"]
    space = {"display": lambda *a, **k: None}
    exec(compile(code[0], "parameters", "exec"), space)
    space.update({"quick": True, "output_dir": str(tmp_path / "tables"), **parameters})
    for i, src in enumerate(code[1:], 1):
        exec(compile(src, f"tiering code cell {i}", "exec"), space)
    return glued


def _check_text(glued):
    missing = [n for n in GLUED_NAMES if n not in glued]
    assert not missing, f"names the text glues but the run did not: {missing}"
    bad = {n: v for n, v in glued.items() if re.search(r"\bnan\b|\binf\b|\d[eE][+-]\d", v)}
    assert not bad, f"glued texts with NaN, infinity or an exponent: {bad}"


def test_tiering_at_4_instances_where_dram_lowers_the_cost(tmp_path, monkeypatch):
    glued = run_tiering(tmp_path, monkeypatch, mooncake_instances=4)
    _check_text(glued)
    assert glued["cost_sentence"].startswith("The 4 instances fall behind the trace")
    assert glued["moon_instances"] == "4 instances" and glued["n_gpus"] == "16 GPUs"


@pytest.mark.slow
@pytest.mark.parametrize("instances", [1, 2, 3, 6, 16])
def test_tiering_at_other_instance_counts(instances, tmp_path, monkeypatch):
    _check_text(run_tiering(tmp_path, monkeypatch, mooncake_instances=instances))
