"""`ecneuro train` and `ecneuro eval`."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from .. import registry
from ..compilers.common import PRECISIONS


def _progress(total: int) -> Any:
    """A tqdm bar on a terminal; plain lines otherwise (CI, logs)."""
    fmt = ("gen {generation:>4}  best {best:9.2f}  mean {mean:9.2f}  det {det_return:9.2f}  "
           "rate {spike_rate:.4f}  rho {mean_rho:.3f}  {gen_time:6.1f}s")

    def line(row: dict[str, Any]) -> str:
        clean = {k: (float("nan") if v is None else v) for k, v in row.items()}
        extra = f"  fwd {row['det_forward_distance']:.2f}m" if "det_forward_distance" in row else ""
        return fmt.format(**clean) + extra

    if sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=total, unit="gen", dynamic_ncols=True)

        def update(row: dict[str, Any]) -> None:
            bar.n = row["generation"] + 1
            bar.set_postfix_str(f"det {row['det_return']:.1f} best {row['best']:.1f}")
            bar.write(line(row))
        return update
    return lambda row: click.echo(line(row), err=True)


@click.command()
@click.option("--task", help="gymnasium task, e.g. CartPole-v1, Hopper-v5 (default CartPole-v1)")
@click.option("--backend", help=f"one of {', '.join(registry.BACKENDS)} (default numpy)")
@click.option("--precision", type=click.Choice(PRECISIONS), help="float, or Loihi-2 fixed point")
@click.option("--population", type=int, help="networks sampled per generation")
@click.option("--generations", type=int, help="generations to run (on --resume: extend to this many)")
@click.option("--seed", type=int, help="run seed: every mask is a function of (seed, generation, member)")
@click.option("--workers", type=int, help="local worker processes (this machine has 2 cores)")
@click.option("--config", "config_file", type=click.Path(), help="TOML config; flags override it")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="e.g. --set strategy.lr=0.1")
@click.option("--run-dir", type=click.Path(), help="where to write the run (default runs/<task>-<time>)")
@click.option("--resume", "resume_dir", type=click.Path(), help="continue the run in this directory")
def train(task, backend, precision, population, generations, seed, workers, config_file, overrides, run_dir,
          resume_dir) -> None:  # type: ignore[no-untyped-def]
    """Evolve connection probabilities by EC; the deterministic network (rho > 0.5) is the headline."""
    from ..host.config import resolve
    from ..host import train as host
    if resume_dir:
        out = Path(resume_dir)
        total = generations or host.load_config(out).generations
        last = host.resume(out, generations, progress=_progress(total))
    else:
        cli = dict(task=task, backend=backend, precision=precision, population=population, generations=generations,
                   seed=seed, workers=workers)
        cfg = resolve(config_file, cli, list(overrides))
        out = Path(run_dir or f"runs/{cfg.task}-{time.strftime('%Y%m%d-%H%M%S')}")
        click.echo(f"training {cfg.task} on {cfg.backend}/{cfg.precision}: population {cfg.population}, "
                   f"{cfg.generations} generations, seed {cfg.seed} -> {out}", err=True)
        last = host.train(cfg, out, progress=_progress(cfg.generations))
    click.echo(json.dumps({"run_dir": str(out), **{k: last.get(k) for k in
                                                     ("generation", "det_return", "best", "wall_time")}}))


@click.command(name="eval")
@click.argument("run_dir", type=click.Path())
@click.option("--episodes", type=int, default=5, show_default=True)
@click.option("--backend", default="numpy", show_default=True)
@click.option("--precision", type=click.Choice(PRECISIONS), default=None, help="default: the run's precision")
@click.option("--seed", type=int, default=12345, show_default=True, help="evaluation episodes' seed")
def evaluate(run_dir: str, episodes: int, backend: str, precision: str | None, seed: int) -> None:
    """Replay the run's best deterministic network and report its return."""
    from ..deployed import load, load_run
    from ..host.replay import replay
    path = Path(run_dir)
    net = load(path) if path.is_file() else load_run(path)
    result = replay(net, episodes, backend, precision or net.meta.get("precision", "float"), seed)
    click.echo(json.dumps(result))
