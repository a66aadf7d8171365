"""Options shared by several subcommands: `--backend-option KEY=VALUE` and value parsing."""
from __future__ import annotations

import json
from typing import Any, Callable

import click

from .. import registry
from ..errors import UserError


def parse_pairs(items: tuple[str, ...], flag: str) -> dict[str, Any]:
    """("tier=fused-k", "recycle_every=5") -> {"tier": "fused-k", "recycle_every": 5} (values parsed as JSON)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag} {item!r} must look like KEY=VALUE, e.g. {flag} tier=fused-k")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def backend_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--backend-option KEY=VALUE` (repeatable): an option of the backend, e.g. tier=fused-k for lava-sim."""
    choices = "; ".join(f"{name}: " + ", ".join(f"{k}={'|'.join(map(str, v))}" for k, v in e.choices.items())
                        for name, e in registry.BACKENDS.items() if e.choices)
    return click.option("--backend-option", "backend_options", multiple=True, metavar="KEY=VALUE",
                        help=f"an option of the backend ({choices})")(fn)


def backend_help() -> str:
    return ", ".join(f"{n} ({e.default_precision})" for n, e in registry.BACKENDS.items())
