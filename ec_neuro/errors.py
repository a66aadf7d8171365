"""User-facing errors: one clear line, exit status 2, no traceback.

An error about one setting carries its name (`key`, as the Python API spells it: "population",
"strategy.lr"); the CLI shows the flag a user types instead (`for_cli`).
"""
from __future__ import annotations

import difflib
from typing import Iterable, Mapping


class UserError(Exception):
    """A mistake in what the user asked for (a name, a number, a file); the CLI prints it and exits 2."""

    exit_code = 2

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key

    def for_cli(self, flags: Mapping[str, str]) -> str:
        """The message with its setting named as the command line spells it (a flag, or --set KEY=...)."""
        msg = str(self)
        if self.key and msg.startswith(self.key):
            flag = flags.get(self.key) or f"{self.key} (--set {self.key}=...)"
            return flag + msg[len(self.key):]
        return msg

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (str(self), self.key))


class MissingExtra(UserError):
    """An optional dependency is not installed; the message carries the exact install command."""

    def __init__(self, what: str, module: str, extra: str) -> None:
        super().__init__(
            f"{what} needs the Python package '{module}', which is not installed. Install it with: "
            f"pip install 'ec-neuro[{extra}]' (in a checkout: .venv/bin/pip install -c constraints.txt -e '.[{extra}]')")
        self.what, self.module, self.extra = what, module, extra

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.what, self.module, self.extra))


def did_you_mean(kind: str, name: str, choices: Iterable[str], key: str | None = None) -> UserError:
    """An 'unknown X' error listing the closest valid names."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return UserError(f"unknown {kind} {name!r}.{hint} Known: {', '.join(choices)}.", key)
