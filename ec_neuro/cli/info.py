"""`ecneuro info`: installed backends, their precisions and tiers, versions; `--check` runs each one."""
from __future__ import annotations

import json

import click


@click.command()
@click.option("--check", is_flag=True, help="run every backend/tier/precision against numpy (bit-exact, ~10 s each)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def info(check: bool, as_json: bool) -> None:
    """Which backends are installed and usable, with versions."""
    from ..backends.info import format_text, gather
    data = gather(check=check)
    click.echo(json.dumps(data, indent=2) if as_json else format_text(data))
