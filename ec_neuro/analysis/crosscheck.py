"""`crosscheck`: one network on every installed backend and precision, compared substep by substep.

    report = crosscheck("runs/cartpole", steps=100)          # or a Deployed, a .npz, or random=SEED
    report["passed"], report["pairs"], ...                    # and crosscheck.json + crosscheck.png in `out`

Stimulus: normalised observations x (T, n_obs), from one episode of the network on its task (closed loop on
numpy/float, recorded) or random N(0, scale^2).  The comparison rules are in `ec_neuro.analysis.compare`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .. import files, memory, registry, validate
from ..errors import UserError
from ..deploy import deployed
from ..sample.masks import random_masks
from ..spec import NetworkSpec
from .compare import check
from .stimulus import random_stimulus, task_stimulus


MAX_STEPS = 10**7
RUNS = 10  # runs a crosscheck keeps at most: each backend, tier and precision


def _check_memory(spec: NetworkSpec, steps: int) -> None:
    """Refuse a crosscheck whose traces (u, v, spikes of every substep of every run) cannot fit."""
    K, N = spec.neuron.substeps, spec.n_neurons
    traces = RUNS * steps * (K * N * 20 + N * 8)
    memory.check_copies(spec, RUNS, f"a crosscheck of a {N}-neuron network over {steps} control steps ({K} substeps "
                        "each, every backend)", "Use fewer --steps or --neurons", trace_bytes=traces)


def load_network(source: str | None, seed: int | None, neurons: int = 64) -> deployed.Deployed:
    """A run directory, a deployed .npz file, or (seed given) a random network with 4 inputs and 2 outputs."""
    if seed is not None:
        if source:
            raise UserError("give either a RUN_DIR/FILE or --random SEED, not both")
        if seed < 0:
            raise UserError(f"--random SEED must be a non-negative integer, got {seed}")
        spec = NetworkSpec(n_obs=4, n_act=2, n_neurons=neurons)
        return deployed.Deployed(spec, random_masks(spec, 1, seed, p=0.5), np.zeros(4), np.ones(4), None,
                                 {"source": f"random seed {seed}"})
    if not source:
        raise UserError("give a RUN_DIR, a network FILE (.npz), or --random SEED")
    path = Path(source)
    if path.is_dir():
        return deployed.load_run(path)
    if path.is_file():
        return deployed.load(path)
    raise UserError(f"{source}: no such run directory or network file")


def crosscheck(source: Any = None, random: int | None = None, neurons: int = 64, stimulus: str = "auto",
               steps: int = 100, input_scale: float = 2.0, seed: int = 0, backends: list[str] | None = None,
               backend_options: Mapping[str, Mapping[str, Any]] | None = None, out: str | Path | None = None,
               perturb: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run the network (run directory, .npz, Deployed, or `random`=SEED) on every installed backend and precision;
    returns the report and, when `out` is given, writes crosscheck.json and crosscheck.png there."""
    validate.integer("steps", steps, 1, MAX_STEPS)
    validate.integer("neurons", neurons, 2, 10**9)
    validate.seed("seed", seed)
    if random is not None:
        validate.seed("random", random)
    validate.number("input_scale", input_scale, positive=True)
    validate.choice("stimulus", stimulus, ("auto", "task", "random"))
    for name in backends or []:
        registry.backend(name)
    for name, opts in (backend_options or {}).items():
        registry.backend_options(name, dict(opts))
    if source is None and random is not None:  # the random network's size is known before it is drawn
        _check_memory(NetworkSpec(n_obs=4, n_act=2, n_neurons=neurons), steps)
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        files.check_writable(out_dir / "crosscheck.json")
    if source is not None and random is not None:
        raise UserError("give either a network (RUN_DIR/FILE) or random=SEED (--random), not both", "random")
    net = deployed.as_network(source) if source is not None else load_network(None, random, neurons)
    from ..deploy.weights import require_ei
    require_ei(net, "crosscheck")
    if source is not None:
        _check_memory(net.spec, steps)
    if net.meta.get("source") is None:
        net.meta["source"] = str(source)
    kind = stimulus if stimulus != "auto" else ("task" if net.task else "random")
    x = task_stimulus(net, steps, seed) if kind == "task" else random_stimulus(net.spec.n_obs, steps, seed,
                                                                               input_scale)
    report, traces = check(net, x, list(backends) if backends else None, tuple(perturb),
                           {k: dict(v) for k, v in (backend_options or {}).items()})
    report["stimulus"].update(kind=kind, seed=seed, **({"input_scale": input_scale} if kind == "random" else {}))
    report["backend_options"] = {k: dict(v) for k, v in (backend_options or {}).items()}
    if out_dir is not None:
        files.atomic_write(out_dir / "crosscheck.json", json.dumps(report, indent=1))
        from .plots import crosscheck_figure
        spikes = {k: np.asarray(t.s[:, 0]) for k, t in traces.items()}
        crosscheck_figure(report, spikes, net.spec.n_exc, net.spec.neuron.substeps, out_dir / "crosscheck.png")
        report["files"] = [str(out_dir / "crosscheck.json"), str(out_dir / "crosscheck.png")]
    return report
