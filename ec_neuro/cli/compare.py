"""`ecneuro compare`: several methods on one task, equal generations or an equal wall-time budget (a thin layer
over ec_neuro.compare)."""
from __future__ import annotations

import json
import re

import click

from ..errors import UserError


def parse_budget(text: str | None) -> float | None:
    """"900", "900s", "15m", "1.5h" -> seconds."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", str(text))
    if not m or float(m.group(1)) <= 0:
        raise UserError(f"--budget must be a positive duration like 900, 900s, 15m or 1.5h, got {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


@click.command()
@click.option("--task", default="Hopper-v5", show_default=True, help="the task every method trains on")
@click.option("--methods", default="ec,es/dense-rsnn,eggroll/dense-rsnn,es/gru,es/lstm", show_default=True,
              help="comma-separated METHOD or METHOD/NETWORK (`ecneuro train --help` lists both)")
@click.option("--budget", help="wall-time budget of each method: 900, 900s, 15m, 1.5h")
@click.option("--generations", type=int, help="generations of each method (with --budget: at most this many)")
@click.option("--out", type=click.Path(file_okay=False), help="one run directory per method in here; run again "
                                                               "to resume  [default: runs/compare-<task>]")
@click.option("--population", type=int, help="members per generation, every method  [default: the task's]")
@click.option("--workers", type=int, help="worker processes of each run  [default: 1]")
@click.option("--seed", type=int, help="run seed of every method  [default: 0]")
@click.option("--set", "overrides", multiple=True, metavar="[LABEL:]KEY=VALUE",
              help="a config key for every run, or for one (es-gru:strategy.sigma=0.05)")
@click.option("--eval-episodes", type=int, default=10, show_default=True,
              help="fresh episodes of each run's best network for the table (0: skip)")
def compare(task, methods, budget, generations, out, population, workers, seed, overrides,
            eval_episodes) -> None:  # type: ignore[no-untyped-def]
    """Train several methods on one task, one after another, and compare them: curves.png (deterministic return
    against generations, env steps and wall time), summary.md and summary.json (final and best returns and
    forward distances) in --out."""
    from ..host.compare import compare as run, table
    settings = {k: v for k, v in dict(population=population, workers=workers, seed=seed).items() if v is not None}
    summary = run(task, [m for m in methods.split(",") if m.strip()], out, generations, parse_budget(budget),
                  settings, overrides, eval_episodes, log=lambda s: click.echo(s, err=True))
    click.echo(table(summary))
    click.echo(json.dumps({"out": str(out or f"runs/compare-{task.replace(':', '.')}"),
                           "methods": list(summary["runs"])}))
