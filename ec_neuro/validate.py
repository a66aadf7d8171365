"""The one validation layer: every value a user can give is checked here, before anything is written.

Each checker takes the value's name as the Python API spells it (`key`: "population", "strategy.lr",
"network.neuron.dt") and raises a UserError whose message starts with that name, so the CLI can show the flag
the user typed instead (`UserError.for_cli`).  The message says what was wrong and what would be right:

    integer("population", v, 2, 2**20)     "population must be an integer from 2 to 1048576, got 'abc'"
    number("input_scale", v, positive=True) "input_scale must be a positive finite number, got nan"
    table("network", v)                     "network must be a table of settings, got 3"

Checkers return the value normalised (an int stays an int, a float is a float); a bool is never a number.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from .errors import UserError

MAX_SEED = 2**63 - 1


def _is_int(val: Any) -> bool:
    import numbers
    return isinstance(val, numbers.Integral) and not isinstance(val, bool)


def _is_number(val: Any) -> bool:
    import numbers
    return isinstance(val, numbers.Real) and not isinstance(val, bool)


def integer(key: str, val: Any, low: int | None = None, high: int | None = None) -> int:
    """An integer in [low, high] (either bound may be None)."""
    if _is_int(val) and (low is None or val >= low) and (high is None or val <= high):
        return int(val)
    if low is not None and high is not None:
        want = f"an integer from {low} to {high}"
    elif low is not None:
        want = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
    elif high is not None:
        want = f"an integer <= {high}"
    else:
        want = "an integer"
    raise UserError(f"{key} must be {want}, got {val!r}", key)


def seed(key: str, val: Any) -> int:
    """A random seed: an integer from 0 to 2**63 - 1."""
    return integer(key, val, 0, MAX_SEED)


def number(key: str, val: Any, low: float | None = None, high: float | None = None, *, positive: bool = False,
           open_low: bool = False, open_high: bool = False, unit: str = "") -> float:
    """A finite real number; `positive` (> 0), or within [low, high] (open ends with open_low/open_high)."""
    ok = _is_number(val) and math.isfinite(val)
    if ok and positive:
        ok = val > 0
    if ok and low is not None:
        ok = val > low if open_low else val >= low
    if ok and high is not None:
        ok = val < high if open_high else val <= high
    if ok:
        return float(val)
    unit = f" {unit}" if unit else ""
    if positive and low is None and high is None:
        want = f"a positive finite number{unit}"
    elif low is not None and high is not None:
        want = f"a finite number{unit} in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    elif low is not None:
        want = f"a finite number{unit} {'>' if open_low else '>='} {low:g}"
    elif high is not None:
        want = f"a finite number{unit} {'<' if open_high else '<='} {high:g}"
    else:
        want = f"a finite number{unit}"
    raise UserError(f"{key} must be {want}, got {val!r}", key)


def optional_number(key: str, val: Any, **kw: Any) -> float | None:
    """None, or a number as `number` checks it."""
    return None if val is None else number(key, val, **kw)


def choice(key: str, val: Any, choices: Iterable[Any]) -> Any:
    """One of `choices` (a typo gets 'did you mean')."""
    choices = list(choices)
    if val in choices and (not isinstance(val, bool) or any(c is val for c in choices)):
        return val
    hint = ""
    if isinstance(val, str):
        import difflib
        close = difflib.get_close_matches(val, [str(c) for c in choices], n=2, cutoff=0.5)
        hint = f". Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UserError(f"{key} must be one of {', '.join(map(str, choices))}, got {val!r}{hint}", key)


def text(key: str, val: Any, what: str = "a non-empty string") -> str:
    if isinstance(val, str) and val.strip():
        return val
    raise UserError(f"{key} must be {what}, got {val!r}", key)


def table(key: str, val: Any) -> dict[str, Any]:
    """A table of settings (a TOML table / JSON object / dict)."""
    if isinstance(val, Mapping):
        return dict(val)
    raise UserError(f"{key} must be a table of settings (e.g. --set {key}.NAME=VALUE), got {val!r}", key)


def one_line(message: str) -> str:
    """A message as one line: inner newlines become '; ' (the CLI prints exactly one line per error)."""
    parts = [p.strip() for p in str(message).replace("\r", "\n").split("\n") if p.strip()]
    return "; ".join(parts) if parts else "error"
