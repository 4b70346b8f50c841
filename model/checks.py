"""Parameter checks that fail with a message naming the parameter and the allowed range."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


class ParameterError(ValueError):
    """A parameter is outside its allowed range or of the wrong kind.

    The message always names the parameter, the value received and what is allowed.
    """

    def __init__(self, name: str, value: Any, allowed: str):
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{name}={value!r} is not allowed: {name} must be {allowed}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) or _is_numpy_number(value)


def _is_numpy_number(value: Any) -> bool:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, (np.integer, np.floating))


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """Return ``value`` as float if it is a finite number inside ``[low, high]``.

    Raises
    ------
    ParameterError
        naming ``name`` and the allowed range.
    """
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    allowed = f"a finite number in {'[' if low_inclusive else '('}{lo}, {hi}{']' if high_inclusive else ')'}"
    if not _is_number(value) or not math.isfinite(float(value)):
        raise ParameterError(name, value, allowed)
    v = float(value)
    if low is not None and (v < low or (not low_inclusive and v == low)):
        raise ParameterError(name, value, allowed)
    if high is not None and (v > high or (not high_inclusive and v == high)):
        raise ParameterError(name, value, allowed)
    return v


def check_positive(name: str, value: Any) -> float:
    """A finite number > 0."""
    return check_number(name, value, low=0.0, low_inclusive=False)


def check_nonnegative(name: str, value: Any) -> float:
    """A finite number >= 0."""
    return check_number(name, value, low=0.0)


def check_fraction(name: str, value: Any, *, allow_zero: bool = True, allow_one: bool = True) -> float:
    """A finite number in [0, 1] (ends optionally excluded)."""
    return check_number(name, value, low=0.0, high=1.0, low_inclusive=allow_zero, high_inclusive=allow_one)


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """An integer (bool excluded) inside ``[low, high]``."""
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else str(high)
    allowed = f"an integer in [{lo}, {hi}]"
    try:
        import numpy as np
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    except ImportError:  # pragma: no cover
        is_int = isinstance(value, int) and not isinstance(value, bool)
    if not is_int and isinstance(value, float) and value.is_integer():
        is_int, value = True, int(value)
    if not is_int:
        raise ParameterError(name, value, allowed)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ParameterError(name, value, allowed)
    return int(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` must be one of ``choices``."""
    options = list(choices)
    if value not in options:
        raise ParameterError(name, value, "one of " + ", ".join(repr(c) for c in options))
    return value


def check_shares(name: str, shares: Iterable[float], *, tolerance: float = 1e-6) -> list[float]:
    """Each share in [0, 1] and their sum equal to 1 within ``tolerance``."""
    values = [check_fraction(f"{name}[{i}]", s) for i, s in enumerate(shares)]
    total = sum(values)
    if abs(total - 1.0) > tolerance:
        raise ParameterError(name, values, f"shares summing to 1 (they sum to {total:.6g})")
    return values
