"""What every command line shares (model.cli): --help exits 0 everywhere, argparse's errors are one line naming the
flag and what it accepts, a closed pipe ends a command quietly, and numbers for people go through the book's
formatter."""
import ast
import os
import subprocess
import sys

import pytest

from model.cli import ArgumentParser, entry, human, seconds
from model.io import ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _entry_points() -> list[str]:
    """Every ``python -m`` module of the package: a package with a ``__main__.py``, or a module with a
    ``if __name__ == "__main__":`` block."""
    found = []
    for path in sorted((ROOT / "model").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if path.name == "__main__.py":
            found.append(name.removesuffix(".__main__"))
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) \
                    and getattr(node.test.left, "id", None) == "__name__":
                found.append(name)
    return found


#: Entry points whose module this change does not own (their --help is fixed where they live).
NOT_YET = {"model.audit.prose": "reads its arguments by hand: --help is taken for a notebook path"}


def test_the_entry_points_are_found():
    points = _entry_points()
    assert {"model", "model.serving", "model.tiering", "model.book.records", "model.book.build",
            "model.book.charts", "model.book.assets"} <= set(points)


@pytest.mark.parametrize("module", [pytest.param(m, marks=pytest.mark.xfail(reason=NOT_YET[m]))
                                    if m in NOT_YET else m for m in _entry_points()])
def test_every_command_line_prints_its_help_and_exits_0(module, tmp_path):
    r = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, env=ENV,
                       cwd=tmp_path, timeout=120, check=False)
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m "), (r.returncode, r.stdout, r.stderr)
    assert r.stderr == "" and list(tmp_path.iterdir()) == []        # --help writes nothing (assets once did)


def _into_a_closed_pipe(argv) -> subprocess.CompletedProcess:
    """Run ``python -m argv`` with stdout a pipe whose reader has gone (as ``| head -1`` leaves it)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", *argv], stdout=write, stderr=subprocess.PIPE, text=True,
                              env=ENV, cwd=ROOT, timeout=300, check=False)
    finally:
        os.close(write)


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "t.jsonl"
    path.write_text("".join(f'{{"timestamp": {i * 100}, "input_length": 1024, "output_length": 10, '
                            f'"hash_ids": [{i % 3}, {10 + i}]}}\n' for i in range(30)))
    return path


@pytest.mark.parametrize("argv", [
    ["model.serving", "predict", "--model", "llama-2-70b", "--gpu", "a100-80gb", "--n-gpus", "4", "--weight-dtype",
     "fp16", "--input-tokens", "128", "--output-tokens", "128", "--batch", "4", "--json"],
    ["model.tiering", "replay", "TRACE", "--tiers", "hbm=8,dram=40", "--json"],
    ["model.tiering", "replay", "TRACE", "--nodes", "2", "--capacity-blocks", "8"],
    ["model.book.records", "list"],
    ["model", "list", "models"],
    ["model", "list", "prices", "--json"],
    ["model.serving", "--help"],
], ids=lambda a: " ".join(a[:3]))
def test_a_closed_pipe_ends_every_command_quietly(argv, trace):
    r = _into_a_closed_pipe([str(trace) if a == "TRACE" else a for a in argv])
    assert (r.returncode, r.stderr) == (0, ""), r.stderr[-2000:]


def _parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m demo")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--batch", type=int)
    run.add_argument("--rate", type=float)
    run.add_argument("--route", choices=["round-robin", "session"])
    run.add_argument("--model", required=True)
    return p


@pytest.mark.parametrize("argv, line", [
    (["run", "--model", "m", "--batch", "x"], "error: --batch='x' is not allowed: --batch must be an integer"),
    (["run", "--model", "m", "--rate", "fast"], "error: --rate='fast' is not allowed: --rate must be a number"),
    (["run", "--model", "m", "--route", "sesion"],
     "error: --route='sesion' is not allowed: --route must be one of round-robin, session; did you mean session?"),
    (["run", "--model", "m", "--bach", "3"], "error: unknown argument --bach; did you mean --batch? "
                                             "(python -m demo --help lists them)"),
    (["run"], "error: missing --model (python -m demo run --help lists them)"),
    (["rn"], "error: 'rn' is not a command of python -m demo: its commands are run; did you mean run?"),
    (["run", "--model"], "error: --model needs a value"),
])
def test_argument_errors_are_one_line_naming_the_flag(capsys, argv, line):
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(argv)
    out = capsys.readouterr()
    assert exc.value.code == 2 and out.out == "" and out.err == line + "\n"


def test_help_still_prints_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(["run", "--help"])
    assert exc.value.code == 0 and "--batch" in capsys.readouterr().out


def test_entry_returns_main_s_status_and_0_on_a_closed_pipe(capsys):
    assert entry(lambda: 3)() == 3

    def closed():
        raise BrokenPipeError

    assert entry(closed)() == 0


def test_numbers_for_people():
    # three significant digits, integers in full, separators, units; percentages of fractions; dollars
    assert human(0.34310225303292896, kind="percent") == "34.3%"
    assert human(1342.17728, "GB") == "1,342 GB" and human(26275237) == "26,275,237"
    assert human(152.68561323835615, kind="usd") == "$153" and human(1.0160147185675161, kind="usd") == "$1.02"
    assert human(1.0146883570313285, kind="ratio") == "×1.01" and human(None, "GB") == "—"
    assert seconds(0.034267) == "34.3 ms" and seconds(8.617163174683128) == "8.62 s"
    assert seconds(1975.8296116415615) == "1,976 s"
