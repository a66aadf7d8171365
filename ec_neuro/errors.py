"""User-facing errors: one clear line, exit status 2, no traceback."""
from __future__ import annotations

import difflib
from typing import Iterable


class UserError(Exception):
    """A mistake in what the user asked for (a name, a number, a file); the CLI prints it and exits 2."""

    exit_code = 2


class MissingExtra(UserError):
    """An optional dependency is not installed; the message carries the exact install command."""

    def __init__(self, what: str, module: str, extra: str) -> None:
        super().__init__(
            f"{what} needs the Python package '{module}', which is not installed. "
            f"Install it with: .venv/bin/pip install -c constraints.txt -e '.[{extra}]'"
        )


def did_you_mean(kind: str, name: str, choices: Iterable[str]) -> UserError:
    """An 'unknown X' error listing the closest valid names."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return UserError(f"unknown {kind} {name!r}.{hint} Known: {', '.join(choices)}.")
