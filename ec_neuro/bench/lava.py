"""`ecneuro bench --suite lava`: closed-loop network-timesteps/s, 64 networks x 256 neurons, one run.

Figures: lava-sim stock and fused tiers (fixed_pt), the naive Lava layout (one stock graph per network,
all stepped side by side), and the numpy fixed-point backend; every backend drives the same deterministic
ToyLoop (no physics), so the figures compare network simulation plus the per-control-step host exchange.
Each figure is timed on a second rollout in a warm worker (process start, numba compile excluded); graph
build + Lava compile is inside the timing, since every generation pays it.  The spike counts of every
backend are checked to be identical.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ..backends.lava_sim import LavaProgram, LavaSimBackend, _Worker
from ..compilers.common import lower
from ..compilers.lava import plan
from ..connectivity import initial_v, random_masks
from ..registry import make_backend
from ..spec import NetworkSpec
from .toyloop import ToyLoop


class NaiveLava(LavaSimBackend):
    """The naive layout for comparison: one stock BiasLIF + Sparse + HostBridge graph per network."""

    def _start(self, w: _Worker, program: LavaProgram, v: np.ndarray) -> None:
        low, N = program.low, program.plan.n_neurons
        plans = [plan(dataclasses.replace(low, T_in=low.T_in[p:p + 1], W_h=low.W_h[p:p + 1],
                                          W_out=low.W_out[p:p + 1])) for p in range(low.population)]
        w.call("start_naive", plans, [v[p * N:(p + 1) * N] for p in range(low.population)])


def _time(backend: Any, low: Any, v0: np.ndarray, steps: int, repeats: int) -> tuple[float, np.ndarray]:
    """Best network-timesteps/s over `repeats` timed rollouts after one warm-up; returns (rate, counts)."""
    prog = backend.compile(low)
    counts = backend.rollout(prog, ToyLoop(low, steps, seed=1), v0)
    best = 0.0
    for _ in range(repeats):
        loop = ToyLoop(low, steps, seed=1)
        t0 = time.perf_counter()
        c = backend.rollout(backend.compile(low), loop, v0)
        dt = time.perf_counter() - t0
        assert np.array_equal(c, counts)
        best = max(best, float(loop.lengths.sum()) * low.spec.neuron.substeps / dt)
    return best, counts


def run(quick: bool = False, population: int = 64, n_neurons: int = 256) -> dict[str, Any]:
    """Measure and print one line per figure; returns the figures and the settings."""
    spec = NetworkSpec(n_obs=8, n_act=2, n_neurons=n_neurons)
    steps = 10 if quick else 30
    naive_pop = 16 if quick else population
    low = lower(spec, random_masks(spec, population, seed=0, p=0.5), "fixed")
    v0 = initial_v(n_neurons, 0, 0, np.arange(population))
    out: dict[str, Any] = {"population": population, "n_neurons": n_neurons, "control_steps_max": steps,
                           "substeps": spec.neuron.substeps, "naive_population": naive_pop}
    figures: dict[str, float] = {}
    ref = None
    runs = [("numpy-fixed", lambda: make_backend("numpy"), population),
            ("lava-sim-stock", lambda: make_backend("lava-sim", tier="stock"), population),
            ("lava-sim-fused", lambda: make_backend("lava-sim", tier="fused"), population),
            ("lava-naive", lambda: NaiveLava(tier="stock"), naive_pop)]
    for name, factory, P in runs:
        backend = factory()
        sub = low if P == population else dataclasses.replace(low, T_in=low.T_in[:P], W_h=low.W_h[:P],
                                                              W_out=low.W_out[:P])
        try:
            rate, counts = _time(backend, sub, v0[:P], steps, 1 if name == "lava-naive" else 2)
        finally:
            backend.close()
        if ref is not None:
            assert np.array_equal(counts, ref[:P]), f"{name} spike counts differ from numpy"
        else:
            ref = counts
        figures[name] = rate
        print(f"{name:16s} {P:3d} x {n_neurons} neurons, closed loop: {rate:10.0f} network-timesteps/s", flush=True)
    out["network_timesteps_per_s"] = figures
    out["ratios"] = {
        "stock_vs_naive": figures["lava-sim-stock"] / figures["lava-naive"],
        "fused_vs_naive": figures["lava-sim-fused"] / figures["lava-naive"],
        "stock_vs_numpy": figures["lava-sim-stock"] / figures["numpy-fixed"],
        "fused_vs_numpy": figures["lava-sim-fused"] / figures["numpy-fixed"],
    }
    for k, v in out["ratios"].items():
        print(f"{k:16s} {v:8.2f}x")
    return out
