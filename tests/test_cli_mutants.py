"""model.cli by hand, in-process: each kind of argparse error rewritten as the one line a user reads (the flag as
typed, what it accepts, a close spelling), the closed-pipe ending of ``entry``, and numbers for people with their
units (each rounding written out here)."""
import argparse
import io
import os
import sys

import pytest

from model.cli import ArgumentParser, _drop_stdout, entry, human, seconds


def _ratio(text):
    raise ValueError(text)


_ratio.__name__ = "ratio"


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m demo")
    p.add_argument("--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--batch", type=int)
    run.add_argument("--rate", type=float)
    run.add_argument("--share", type=_ratio)
    run.add_argument("--route", choices=["round-robin", "session"])
    run.add_argument("--pair", nargs=2)
    run.add_argument("--model", required=True)
    group = run.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true")
    group.add_argument("--csv", action="store_true")
    sub.add_parser("show")
    return p


def error_line(argv, capsys, p=None) -> str:
    with pytest.raises(SystemExit) as exc:
        (p or parser()).parse_args(argv)
    out = capsys.readouterr()
    assert exc.value.code == 2 and out.out == ""
    assert out.err.endswith("\n") and out.err.count("\n") == 1
    return out.err[:-1]


M = ["run", "--model", "m"]


@pytest.mark.parametrize("argv, line", [
    (M + ["--batch", "x"], "error: --batch='x' is not allowed: --batch must be an integer"),
    (M + ["--rate", "fast"], "error: --rate='fast' is not allowed: --rate must be a number"),
    (M + ["--share", "lots"], "error: --share='lots' is not allowed: --share must be a ratio"),
    (M + ["--route", "sesion"],
     "error: --route='sesion' is not allowed: --route must be one of round-robin, session; did you mean session?"),
    (M + ["--route", "zzz"], "error: --route='zzz' is not allowed: --route must be one of round-robin, session"),
    (["rn"], "error: 'rn' is not a command of python -m demo: its commands are run, show; did you mean run?"),
    (["xyzzy"], "error: 'xyzzy' is not a command of python -m demo: its commands are run, show"),
    (M + ["--bach", "3"], "error: unknown argument --bach; did you mean --batch? (python -m demo --help lists them)"),
    (M + ["--bach=3"], "error: unknown argument --bach; did you mean --batch? (python -m demo --help lists them)"),
    (M + ["extra", "--zzzzzz"], "error: unknown argument --zzzzzz (python -m demo --help lists them)"),
    (M + ["extra", "more"], "error: unknown argument extra (python -m demo --help lists them)"),
    (M + ["--verbos"], "error: unknown argument --verbos; did you mean --verbose? (python -m demo --help lists them)"),
    (["run"], "error: missing --model (python -m demo run --help lists them)"),
    (M + ["--model"], "error: --model needs a value"),
    (M + ["--pair", "a"], "error: --pair needs 2 arguments"),
    (M + ["--json", "--csv"], "error: --csv is not allowed with --json: give one of them"),
])
def test_each_argparse_error_is_one_line(capsys, argv, line):
    assert error_line(argv, capsys) == line


def test_any_other_message_is_kept_on_one_line(capsys):
    p = ArgumentParser(prog="x")
    with pytest.raises(SystemExit) as exc:
        p.error("something   odd\n  happened")
    assert exc.value.code == 2 and capsys.readouterr().err == "error: something odd happened\n"


def test_the_options_of_a_parser_and_its_commands():
    assert parser()._options() == ["--batch", "--csv", "--help", "--json", "--model", "--pair", "--rate", "--route",
                                   "--share", "--verbose", "-h"]
    assert ArgumentParser(prog="x")._options() == ["--help", "-h"]


def test_a_nested_command_is_searched_too():
    p = ArgumentParser(prog="x")
    sub = p.add_subparsers(dest="a")
    inner = sub.add_parser("one").add_subparsers(dest="b")
    inner.add_parser("two").add_argument("--deep")
    assert "--deep" in p._options()


def test_a_command_with_commands_of_its_own_beside_another():
    p = ArgumentParser(prog="x")
    sub = p.add_subparsers(dest="a")
    sub.add_parser("one").add_argument("--alpha")
    inner = sub.add_parser("two").add_subparsers(dest="b")
    inner.add_parser("three").add_argument("--gamma")
    assert p._options() == ["--alpha", "--gamma", "--help", "-h"]


def test_choices_and_values_that_begin_or_end_with_x(capsys):
    p = ArgumentParser(prog="x")
    p.add_argument("--size", choices=["XL", "SX", "M"])
    assert error_line(["--size", "XLL"], capsys, p) == \
        "error: --size='XLL' is not allowed: --size must be one of XL, SX, M; did you mean XL?"
    assert error_line(["--size", "SXX"], capsys, p) == \
        "error: --size='SXX' is not allowed: --size must be one of XL, SX, M; did you mean SX?"


def test_an_unknown_flag_with_two_equals_signs(capsys):
    assert error_line(M + ["--bach=3=4"], capsys) == \
        "error: unknown argument --bach; did you mean --batch? (python -m demo --help lists them)"


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["run", "--help"])
    assert exc.value.code == 0 and "--batch" in capsys.readouterr().out


# --- entry --------------------------------------------------------------------------------------------------------
class Out(io.StringIO):
    flushes = 0

    def flush(self):
        self.flushes += 1
        super().flush()


def test_entry_passes_arguments_and_status_and_flushes(monkeypatch):
    out = Out()
    monkeypatch.setattr(sys, "stdout", out)

    def main(argv=None, *, k=0):
        """doc"""
        print("hi", end="")
        return len(argv) + k

    run = entry(main)
    assert run(["a", "b"], k=3) == 5
    assert out.flushes >= 1 and out.getvalue() == "hi"
    assert run.__name__ == "main" and run.__doc__ == "doc" and run.__wrapped__ is main


def test_entry_flushes_when_main_raises(monkeypatch):
    out = Out()
    monkeypatch.setattr(sys, "stdout", out)

    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        entry(boom)()
    assert out.flushes == 1


def test_a_closed_pipe_ends_with_0_and_drops_stdout(monkeypatch, tmp_path):
    target = open(tmp_path / "out.txt", "w+")      # stands for the pipe: its descriptor is pointed at /dev/null
    monkeypatch.setattr(sys, "stdout", target)
    try:
        def closed():
            raise BrokenPipeError

        assert entry(closed)() == 0
        os.write(target.fileno(), b"lost")
        assert (tmp_path / "out.txt").read_text() == ""
    finally:
        target.close()


def test_a_closed_pipe_raised_by_the_last_flush(monkeypatch):
    class Closed(io.StringIO):
        def flush(self):
            raise BrokenPipeError

    monkeypatch.setattr(sys, "stdout", Closed())
    assert entry(lambda: 7)() == 0


def test_drop_stdout_without_a_descriptor(monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert _drop_stdout() is None

    class NoFileno:
        pass

    monkeypatch.setattr(sys, "stdout", NoFileno())
    assert _drop_stdout() is None

    class Closed:
        def fileno(self):
            raise ValueError("I/O operation on closed file")

    monkeypatch.setattr(sys, "stdout", Closed())
    assert _drop_stdout() is None


# --- numbers for people -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, kw, want", [
    ((0.3431,), {"kind": "percent"}, "34.3%"),
    ((1542.7, "GB"), {}, "1,543 GB"),
    ((26275237,), {}, "26,275,237"),
    ((1.23456, "s"), {}, "1.23 s"),
    ((1.23456, "s"), {"digits": 5}, "1.2346 s"),
    ((152.68, ), {"kind": "usd"}, "$153"),
    ((1.0147,), {"kind": "ratio"}, "×1.01"),
    ((None, "GB"), {}, "—"),
    ((float("nan"), "GB"), {}, "—"),
    ((3, "GPUs"), {"kind": "integer"}, "3 GPUs"),
    ((2.5,), {}, "2.5"),
])
def test_human(args, kw, want):
    assert human(*args, **kw) == want


@pytest.mark.parametrize("value, digits, want", [
    (None, 3, "—"), (0.034267, 3, "34.3 ms"), (0.999, 3, "999 ms"), (1.0, 3, "1 s"), (8.617, 3, "8.62 s"),
    (1975.83, 3, "1,976 s"), (-0.5, 3, "−500 ms"), (-2.0, 3, "−2 s"), (0.0123456, 5, "12.346 ms"),
    (1.23456, 2, "1.2 s"),
])
def test_seconds(value, digits, want):
    assert seconds(value, digits) == want


def test_seconds_default_digits():
    assert seconds(0.0123456) == "12.3 ms" and seconds(12.3456) == "12.3 s"
