"""What every command line of the package shares (``python -m model list``, ``python -m model.serving``,
``python -m model.tiering``, ``python -m model.book.records`` ...):

- :class:`ArgumentParser`: a bad or missing flag ends with one line on stderr, ``error: ...``, naming the flag as
  typed and what it accepts, and exit status 2 (argparse's own usage block and multi-line errors are not
  printed; ``--help`` prints the help and exits 0, as argparse does);
- :func:`entry`: the decorator of a command line's ``main``: a reader who closes the pipe early
  (``... --json | head -1``) ends the command quietly, with status 0 and no traceback;
- :func:`human`, :func:`seconds`: numbers for people, through the book's one number formatter
  (:func:`model.book.tables.format_number`), with their unit; ``--json`` output is never rounded.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import os
import re
import sys
from collections.abc import Callable

from model.book.tables import Col, format_number, format_value

_INVALID = re.compile(r"^argument (?P<flag>[^:]+): invalid (?P<type>\w+) value: (?P<value>.+)$")
_CHOICE = re.compile(r"^argument (?P<flag>[^:]+): invalid choice: (?P<value>.+?) \(choose from (?P<choices>.+)\)$")
_EXPECTED = re.compile(r"^argument (?P<flag>[^:]+): expected (?P<what>.+)$")
_EXCLUSIVE = re.compile(r"^argument (?P<flag>[^:]+): not allowed with argument (?P<other>.+)$")
_UNKNOWN = re.compile(r"^unrecognized arguments: (?P<args>.+)$")
_REQUIRED = re.compile(r"^the following arguments are required: (?P<flags>.+)$")
#: What argparse's type names accept, in words.
_TYPE_WORDS = {"int": "an integer", "float": "a number"}


class ArgumentParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors are one line: ``error: --batch='x' is not allowed:
    --batch must be an integer`` (its sub-command parsers are of the same class)."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"error: {self._one_line(message)}\n")

    def _options(self) -> list[str]:
        """Every option string of this parser and of its sub-commands."""
        found, todo = [], [self]
        while todo:
            p = todo.pop()
            found += list(p._option_string_actions)
            for action in p._actions:
                if isinstance(action, argparse._SubParsersAction):
                    todo += list(action.choices.values())
        return sorted(set(found))

    def _one_line(self, message: str) -> str:
        message = " ".join(message.split())
        hint = f"{self.prog} --help lists them"
        if m := _INVALID.match(message):
            what = _TYPE_WORDS.get(m["type"], f"a {m['type']}")
            return f"{m['flag']}={m['value']} is not allowed: {m['flag']} must be {what}"
        if m := _CHOICE.match(message):
            options = [c.strip().strip("'") for c in m["choices"].split(",")]
            close = difflib.get_close_matches(m["value"].strip("'"), options, n=1, cutoff=0.6)
            did = f"; did you mean {close[0]}?" if close else ""
            commands = {a.dest for a in self._actions if isinstance(a, argparse._SubParsersAction)}
            if m["flag"] in commands:
                return f"{m['value']} is not a command of {self.prog}: its commands are {', '.join(options)}{did}"
            return f"{m['flag']}={m['value']} is not allowed: {m['flag']} must be one of {', '.join(options)}{did}"
        if m := _EXPECTED.match(message):
            return f"{m['flag']} needs {'a value' if m['what'] == 'one argument' else m['what']}"
        if m := _EXCLUSIVE.match(message):
            return f"{m['flag']} is not allowed with {m['other']}: give one of them"
        if m := _UNKNOWN.match(message):
            flags = [a for a in m["args"].split() if a.startswith("-")]
            first = flags[0].split("=", 1)[0] if flags else m["args"].split()[0]
            close = difflib.get_close_matches(first, self._options(), n=1, cutoff=0.6)
            did = f"; did you mean {close[0]}?" if close else ""
            return f"unknown argument {first}{did} ({hint})"
        if m := _REQUIRED.match(message):
            return f"missing {m['flags']} ({hint})"
        return message


def entry(main: Callable[..., int]) -> Callable[..., int]:
    """Decorate a command line's ``main``: stdout is flushed before it returns, and a closed pipe (the reader
    stopped reading: ``| head -1``) ends it with status 0, no traceback and nothing on stderr."""

    @functools.wraps(main)
    def run(*args, **kwargs) -> int:
        try:
            try:
                return main(*args, **kwargs)
            finally:
                sys.stdout.flush()
        except BrokenPipeError:
            _drop_stdout()
            return 0

    return run


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush at exit finds no closed pipe either."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def human(value, unit: str = "", *, kind: str = "number", digits: int = 3) -> str:
    """``value`` for people: :func:`~model.book.tables.format_value` of a column of ``kind`` (``number``: 3
    significant digits, integers in full, thousands separated; ``percent``: a fraction as %; ``usd``: $...;
    ``ratio``: ×N) followed by ``unit`` (``human(0.3431, kind="percent")`` → ``34.3%``, ``human(1542.7, "GB")``
    → ``1,543 GB``)."""
    text = format_value(value, Col("", unit, kind, digits))
    return f"{text} {unit}" if unit and text != "—" else text


def seconds(value: float, digits: int = 3) -> str:
    """A duration in ms below one second, else in s (``0.0431`` → ``43.1 ms``, ``1975.8`` → ``1,976 s``)."""
    if value is None:
        return "—"
    return f"{format_number(1e3 * value, digits)} ms" if abs(value) < 1 else f"{format_number(value, digits)} s"
