"""`ecneuro crosscheck`: one network on every installed backend and precision; a JSON report and a PNG."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import registry
from ..errors import UserError
from .options import backend_option, parse_pairs


def per_backend(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{"tier": "fused", "brian2.target": "numpy"} -> {"lava-sim": {"tier": ...}, "brian2": {"target": ...}}:
    a plain KEY goes to every backend that has that option, BACKEND.KEY to that backend only."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in options.items():
        name, _, opt = key.rpartition(".")
        if name:
            registry.backend(name)
            out.setdefault(name, {})[opt] = value
            continue
        takers = [n for n, e in registry.BACKENDS.items() if opt in e.choices]
        if not takers:
            raise UserError(f"--backend-option {key}: no backend has an option {opt!r}; write BACKEND.{opt}=VALUE "
                            "for an option only one backend takes")
        for n in takers:
            out.setdefault(n, {})[opt] = value
    return out


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
@backend_option
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="output directory (default RUN_DIR/crosscheck, else ./crosscheck)")
@click.option("--perturb", multiple=True, hidden=True,
              help="testing: run BACKEND/PRECISION on a copy with one recurrent connection flipped")
def crosscheck(source: str | None, random_seed: int | None, neurons: int, stimulus: str, steps: int,
               input_scale: float, seed: int, backends: tuple[str, ...], backend_options: tuple[str, ...],
               out: str | None, perturb: tuple[str, ...]) -> None:
    """Run one network on every backend and precision and compare them substep by substep.

    SOURCE is a run directory (its best.npz) or a deployed network file; or use --random SEED.
    Same-precision runs must be bit-identical to numpy (u, v, spikes); fixed vs float may part after a
    few substeps (chaotic dynamics) and must agree in firing rates within the stated tolerance.
    --backend-option tier=fused-k applies to every backend with that option; brian2.target=numpy to one.
    Exit status 1 when a pair fails, 2 on bad input.
    """
    from ..analysis.crosscheck import crosscheck as run
    out_dir = Path(out) if out else (Path(source) / "crosscheck" if source and Path(source).is_dir()
                                     else Path("crosscheck"))
    report = run(source, random_seed, neurons, stimulus, steps, input_scale, seed, list(backends) or None,
                 per_backend(parse_pairs(backend_options, "--backend-option")), out_dir, tuple(perturb))
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
