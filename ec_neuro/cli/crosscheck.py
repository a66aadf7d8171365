"""`ecneuro crosscheck`: one network on every installed backend and precision; a JSON report and a PNG."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from .. import crosscheck as cc
from ..errors import UserError


@click.command("crosscheck")
@click.argument("source", required=False)
@click.option("--random", "random_seed", type=int, default=None, metavar="SEED",
              help="check a random network (4 inputs, 2 outputs) drawn from SEED instead of a file")
@click.option("--neurons", type=int, default=64, show_default=True, help="size of the --random network")
@click.option("--stimulus", type=click.Choice(["auto", "task", "random"]), default="auto", show_default=True,
              help="task: one recorded episode of the network on its task; random: N(0, scale^2) inputs; "
                   "auto: task when the network names one")
@click.option("--steps", type=int, default=100, show_default=True, help="control steps of stimulus (at most)")
@click.option("--input-scale", type=float, default=2.0, show_default=True, help="std of random inputs")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the stimulus (episode or inputs)")
@click.option("--backend", "backends", multiple=True, help="only these backends (default: every installed one)")
@click.option("--brian2-target", type=click.Choice(["cython", "numpy"]), default="cython", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="output directory (default RUN_DIR/crosscheck, else ./crosscheck)")
@click.option("--perturb", multiple=True, hidden=True,
              help="testing: run BACKEND/PRECISION on a copy with one recurrent connection flipped")
def crosscheck(source: str | None, random_seed: int | None, neurons: int, stimulus: str, steps: int,
               input_scale: float, seed: int, backends: tuple[str, ...], brian2_target: str, out: str | None,
               perturb: tuple[str, ...]) -> None:
    """Run one network on every backend and precision and compare them substep by substep.

    SOURCE is a run directory (its best.npz) or a deployed network file; or use --random SEED.
    Same-precision runs must be bit-identical to numpy (u, v, spikes); fixed vs float may part after a
    few substeps (chaotic dynamics) and must agree in firing rates within the stated tolerance.
    Exit status 1 when a pair fails, 2 on bad input.
    """
    if steps < 1:
        raise UserError(f"--steps must be at least 1, got {steps}")
    if neurons < 2:
        raise UserError(f"--neurons must be at least 2, got {neurons}")
    net = cc.load_network(source, random_seed, neurons)
    if net.meta.get("source") is None:
        net.meta["source"] = source
    kind = stimulus if stimulus != "auto" else ("task" if net.task else "random")
    x = cc.task_stimulus(net, steps, seed) if kind == "task" else cc.random_stimulus(net.spec.n_obs, steps, seed,
                                                                                      input_scale)
    options = {"brian2": {"target": brian2_target}}
    report, traces = cc.check(net, x, list(backends) or None, tuple(perturb), options)
    report["stimulus"].update(kind=kind, seed=seed, **({"input_scale": input_scale} if kind == "random" else {}))
    report["brian2_target"] = brian2_target
    out_dir = Path(out) if out else (Path(source) / "crosscheck" if source and Path(source).is_dir()
                                     else Path("crosscheck"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "crosscheck.json").write_text(json.dumps(report, indent=1))
    from ..plots import crosscheck_figure
    spikes = {k: np.asarray(t.s[:, 0]) for k, t in traces.items()}
    crosscheck_figure(report, spikes, net.spec.n_exc, net.spec.neuron.substeps, out_dir / "crosscheck.png")
    _summary(report, out_dir)
    if not report["passed"]:
        sys.exit(1)  # click.exceptions.Exit would be swallowed by main()'s standalone_mode=False


def _summary(report: dict, out_dir: Path) -> None:
    """The table a person reads: one line per run, one per pair, the verdict."""
    st = report["stimulus"]
    click.echo(f"network {report['network']['source']} ({report['network']['n_neurons']} neurons), "
               f"stimulus {st['kind']}: {st['control_steps']} control steps = {st['substeps']} substeps")
    for key, run in report["runs"].items():
        r = run["rates"]
        flag = "  [PERTURBED copy]" if run.get("perturbed") else ""
        click.echo(f"  run  {key:16s} {run['spikes']:7d} spikes  rate E {r['E']:.4f} I {r['I']:.4f} "
                   f"/neuron/substep  {run['wall_s']:.2f}s{flag}")
    for name, why in report["skipped"].items():
        click.echo(f"  skip {name}: {why}")
    for p in report["pairs"]:
        status = "ok  " if p["passed"] else "FAIL"
        click.echo(f"  {status} {p['a']} vs {p['b']} [{p['kind']}]: {p['verdict']}; max|du| {p['max_abs_du']:.3g} "
                   f"max|dv| {p['max_abs_dv']:.3g}; max spike-count diff/neuron {p['max_abs_count_diff']}")
    click.echo(f"{'PASSED' if report['passed'] else 'FAILED'}: report {out_dir / 'crosscheck.json'}, "
               f"figure {out_dir / 'crosscheck.png'}")
