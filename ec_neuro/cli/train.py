"""`ecneuro train`: evolve a network (a thin layer over ec_neuro.train / ec_neuro.resume)."""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from .. import interrupt, registry
from ..compilers.common import PRECISIONS
from ..errors import UserError
from .options import backend_help, backend_option, parse_pairs

CHANGEABLE_ON_RESUME = ("generations", "workers", "ray_address", "ray_local")


@click.command()
@click.option("--task", help="a task of ours (`ecneuro tasks`), any gymnasium id, or pkg.module:Class  "
                             "[default: CartPole-v1]")
@click.option("--method", type=click.Choice(list(registry.METHODS)), metavar="NAME",
              help=f"training method: {', '.join(registry.METHODS)}  [default: ec]")
@click.option("--network", type=click.Choice(list(registry.NETWORKS)), metavar="KIND",
              help="network kind: " + "; ".join(f"{k} ({', '.join(v.networks)})" for k, v in registry.METHODS.items())
              + "  [default: the method's first]")
@click.option("--backend", help=f"where networks run: {backend_help()}  [default: numpy]")
@click.option("--precision", type=click.Choice(PRECISIONS), help="float, or Loihi-2 fixed point  "
                                                                  "[default: the backend's, in brackets above]")
@click.option("--population", type=int, help="networks sampled per generation  [default: the task's]")
@click.option("--generations", type=int, help="generations to run; with --resume, extend to this many  "
                                              "[default: the task's]")
@click.option("--seed", type=int, help="run seed: every member is a function of (seed, generation, index)  "
                                       "[default: 0]")
@click.option("--workers", type=int, help="worker processes evaluating members (results do not depend on it)  "
                                          "[default: 1]")
@click.option("--ray-address", help="evaluate on the Ray cluster at HOST:PORT (or auto), one actor per CPU or "
                                    "--workers N (results do not depend on it; see docs/ray.md)")
@click.option("--ray-local", type=int, help="evaluate on N actors of a private Ray started on 127.0.0.1")
@click.option("--data", type=click.Path(), help="the data folder of a task that needs one (nmnist: the folder "
                                                "holding Train/ and Test/ or their zips; docs/events.md)")
@click.option("--verify", help="check the fast lava-sim tier against Intel's stock models (docs/lava.md): every, "
                               "off, or N (every N-th generation)  [default: every]")
@click.option("--config", "config_file", type=click.Path(), help="a TOML config (see examples/config.toml); "
                                                                  "flags override it")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="any config key, e.g. --set strategy.lr=0.1")
@backend_option
@click.option("--run-dir", type=click.Path(), help="where to write the run  [default: runs/<task>-<time>]")
@click.option("--resume", "resume_dir", type=click.Path(), help="continue (or extend) the run in this directory")
@click.option("--print-config", is_flag=True, help="print the fully resolved config as TOML and exit")
def train(task, method, network, backend, precision, population, generations, seed, workers, ray_address, ray_local,
          data, verify, config_file, overrides, backend_options, run_dir, resume_dir,
          print_config) -> None:  # type: ignore[no-untyped-def]
    """Evolve a network on a task; the deterministic network (rho > 0.5 for EC) is the headline.

    Defaults come from the task (`ecneuro tasks` shows them), then --config, then flags, then --set.
    """
    from ..host import preflight, train as host
    from ..host.config import resolve, to_toml
    from ..host.rundir import RunDir
    settings = dict(task=task, method=method, backend=backend, precision=precision, population=population,
                    generations=generations, seed=seed, workers=workers, ray_address=ray_address,
                    ray_local=ray_local, verify=verify)
    if resume_dir:
        given = [k for k, v in settings.items() if v is not None and k not in CHANGEABLE_ON_RESUME]
        given += ["network"] * bool(network) + ["data"] * bool(data)
        given += ["config"] * bool(config_file) + ["set"] * bool(overrides) + ["backend-option"] * bool(
            backend_options) + ["run-dir"] * bool(run_dir) + ["print-config"] * print_config
        if given:
            raise UserError(f"--resume continues the run as it was configured; --{given[0].replace('_', '-')} "
                            f"cannot change it (only --generations, --workers, --ray-address and --ray-local can)")
        place = dict(workers=workers, ray_address=ray_address, ray_local=ray_local)
        plan = preflight.check_resume(RunDir(resume_dir), generations, **place)
        if plan.finished:
            click.echo(f"note: {plan.finished}", err=True)
            _summary(host.load_run(resume_dir))
            return
        click.echo(f"resuming {resume_dir} at generation {plan.done} of {plan.config.generations}", err=True)
        out = resume_dir
        work = lambda: host.resume(resume_dir, generations, **place)  # noqa: E731
    else:
        if backend_options:
            settings["backend_options"] = parse_pairs(backend_options, "--backend-option")
        if network:
            overrides = (f"network.kind={network}", *overrides)
        if data:  # recorded absolute, so workers and resumed runs find it from any folder
            settings["task_options"] = {**_file_options(config_file), "data": os.path.abspath(data)}
        cfg = resolve(settings, file=config_file, overrides=list(overrides))
        if print_config:
            click.echo(to_toml(cfg.to_dict()))
            return
        out = run_dir or f"runs/{cfg.task.replace(':', '.')}-{time.strftime('%Y%m%d-%H%M%S')}"
        preflight.check_train(cfg, RunDir(out))  # refused input: one line, nothing written, no banner
        click.echo(f"training {cfg.task} by {cfg.method} on {cfg.backend}/{cfg.precision}: population "
                   f"{cfg.population}, {cfg.generations} generations, seed {cfg.seed} -> {out}", err=True)
        work = lambda: host.train(cfg, out)  # noqa: E731
    try:
        run = work()
    except interrupt.Interrupted as e:
        raise interrupt.Interrupted(e.signum, f"{e}: {_where(out)}") from None
    _summary(run)


def _file_options(config_file: str | None) -> dict[str, Any]:
    """The task_options of a --config file (so --data adds to them rather than replacing them)."""
    if not config_file:
        return {}
    from ..host.config import load_file
    opts = load_file(config_file).get("task_options") or {}
    return dict(opts) if isinstance(opts, dict) else {}


def _where(run_dir: str) -> str:
    """Where an interrupted run stopped, and how to go on."""
    from ..host.rundir import RunDir
    rd = RunDir(run_dir)
    done = 0
    try:
        from ..host import checkpoint
        done = checkpoint.load(rd / "checkpoint.npz").state.generation
    except Exception:
        pass
    if not (rd / "config.json").exists():
        return f"nothing was written to {run_dir}"
    return (f"{done} generation{'s' * (done != 1)} saved in {run_dir}; continue with "
            f"`ecneuro train --resume {run_dir}`")


def _summary(run) -> None:  # type: ignore[no-untyped-def]
    last = run.last
    click.echo(json.dumps({"run_dir": str(run.path), **{k: last.get(k) for k in
                                                          ("generation", "det_return", "best", "wall_time")},
                            **({"det_accuracy": last["det_accuracy"]} if "det_accuracy" in last else {})}))
    sys.stdout.flush()
