"""`ecneuro bench`: throughput figures measured side by side in one run (never a timed test)."""
from __future__ import annotations

import json
import platform
import time

import click

from .. import files
from ..registry import SUITES, load


@click.command()
@click.option("--suite", type=click.Choice([*SUITES, "all"]), default="core", show_default=True)
@click.option("--quick", is_flag=True, help="small sizes, for a smoke run")
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="also write the figures here")
def bench(suite: str, quick: bool, json_file: str | None) -> None:
    """Print throughput figures (core: EC vs dense float vs MuJoCo; lava; brian2; workers: process vs Ray)."""
    if json_file:
        files.check_output(json_file)  # before minutes of measuring
    names = list(SUITES) if suite == "all" else [suite]
    out = {"machine": {"processor": platform.processor() or platform.machine(), "python": platform.python_version()},
           "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "quick": quick}
    for name in names:
        click.echo(f"== {name}", err=True)
        out[name] = load(SUITES[name])(quick=quick)
    if json_file:
        files.atomic_write(json_file, json.dumps(out, indent=2))
        click.echo(f"figures written to {json_file}", err=True)
