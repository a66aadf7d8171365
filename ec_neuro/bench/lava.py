"""`ecneuro bench --suite lava`: closed-loop network-timesteps/s, 64 networks x 256 neurons, one run.

Figures: lava-sim stock, fused and fused-k tiers (fixed_pt), the naive Lava layout (one stock graph per network,
all stepped side by side), and the numpy fixed-point backend; every backend drives the same deterministic
ToyLoop (no physics), so the figures compare network simulation plus the per-control-step host exchange.
Each figure is the best of three rollouts after a warm-up one (process start, numba compile excluded).  The
headline figure counts only the stepping (every control step's host exchange included); the per-rollout
figure counts everything a generation pays: the compile (plan), the graph build + Lava compile + stop, or,
for a live fused graph (`reuse`, the default), loading the next population into it.  The fused tiers run
twice, live and rebuilt per rollout (`reuse=False`, the old behaviour), side by side.  The naive layout steps
a few control steps only (it is ~100x slower).  Every backend's spike counts are checked against numpy's.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ..backends.lava_sim import LavaProgram, LavaSimBackend, _Worker
from ..backends.mailbox import Mailbox
from ..compilers.common import lower
from ..compilers.lava import LavaPlan, plan
from ..sample.masks import initial_v, random_masks
from ..registry import make_backend
from ..spec import NetworkSpec
from ..backends.toyloop import ToyLoop


class NaiveSession:
    """The naive layout (benchmarks only): one stock graph and runtime per member, stepped side by side."""

    def __init__(self, plans: list[LavaPlan], v0s: list[np.ndarray], box: Mailbox | None = None) -> None:
        from lava.magma.core.run_conditions import RunSteps

        from ..backends.lava_graph import Session
        self.sessions = []
        try:
            for pl, v0 in zip(plans, v0s):
                self.sessions.append(Session(pl, v0, "stock", False))
        except BaseException:
            self.stop()
            raise
        self.n = plans[0].size
        self.steps = RunSteps(num_steps=plans[0].substeps, blocking=False)
        self.last: np.ndarray | None = None
        self.box = box

    def step(self, msg: np.ndarray) -> np.ndarray:
        """msg = [bias (P*N), active (P)] -> rows (2, P*N), all runtimes running concurrently."""
        P, n = len(self.sessions), self.n
        for p, s in enumerate(self.sessions):
            s._send.send(np.concatenate([msg[p * n:(p + 1) * n], msg[P * n + p:P * n + p + 1]]))
            s.proc.run(condition=self.steps)
        rows = []
        for s in self.sessions:
            rows.append(s._recv.recv())
            s.proc.wait()
        self.last = np.concatenate(rows, axis=1)
        return self.last

    def stop(self) -> None:
        for s in self.sessions:
            s.stop()


class NaiveLava(LavaSimBackend):
    """The naive layout for comparison: one stock BiasLIF + Sparse + HostBridge graph per network."""

    def _start(self, w: _Worker, box: Mailbox, program: LavaProgram, v: np.ndarray) -> None:
        low, N = program.low, program.plan.n_neurons
        plans = [plan(dataclasses.replace(low, T_in=low.T_in[p:p + 1], W_h=low.W_h[p:p + 1],
                                          W_out=low.W_out[p:p + 1])) for p in range(low.population)]
        w.call("start", box.spec(), "ec_neuro.bench.lava:NaiveSession",
               (plans, [v[p * N:(p + 1) * N] for p in range(low.population)]))


def _time(backend: Any, low: Any, v0: np.ndarray, steps: int, repeats: int) -> tuple[dict[str, float], np.ndarray]:
    """Best of `repeats` timed rollouts (after a warm-up one if repeats > 1): network-timesteps/s while
    stepping, and per rollout including graph build/compile/stop; returns (figures, spike counts)."""
    first = 0.0
    if repeats > 1:
        backend.rollout(backend.compile(low), ToyLoop(low, steps, seed=1), v0)
        first = getattr(backend, "timing", {}).get("start_s", 0.0)
    best: dict[str, float] = {}
    for _ in range(repeats):
        loop = ToyLoop(low, steps, seed=1)
        t0 = time.perf_counter()
        counts = backend.rollout(backend.compile(low), loop, v0)
        total = time.perf_counter() - t0
        work = float(loop.lengths.sum()) * low.spec.neuron.substeps
        t = getattr(backend, "timing", {})
        fig = {"stepping": work / t.get("steps_s", total), "with_build": work / total, "build_s": t.get("start_s", 0.0),
               "built": t.get("built", 0.0), "first_build_s": first, "rollout_s": total}
        if fig["stepping"] > best.get("stepping", 0.0):
            best = fig
    return best, counts


def run(quick: bool = False, population: int = 64, n_neurons: int = 256) -> dict[str, Any]:
    """Measure and print one line per figure; returns the figures and the settings."""
    spec = NetworkSpec(n_obs=8, n_act=2, n_neurons=n_neurons)
    steps = 20 if quick else 100
    naive_steps = 2 if quick else 3
    naive_pop = 16 if quick else population
    low = lower(spec, random_masks(spec, population, seed=0, p=0.5), "fixed")
    v0 = initial_v(n_neurons, 0, 0, np.arange(population))
    out: dict[str, Any] = {"population": population, "n_neurons": n_neurons, "control_steps_max": steps,
                           "substeps": spec.neuron.substeps, "naive_population": naive_pop,
                           "naive_control_steps_max": naive_steps}
    figures: dict[str, float] = {}
    builds: dict[str, dict[str, float]] = {}
    refs: dict[tuple[int, bool], np.ndarray] = {}
    runs = [("numpy-fixed", lambda: make_backend("numpy"), population),
            ("lava-sim-stock", lambda: make_backend("lava-sim", tier="stock"), population),
            ("lava-sim-fused", lambda: make_backend("lava-sim", tier="fused"), population),
            ("lava-sim-fused-rebuild", lambda: make_backend("lava-sim", tier="fused", reuse=False), population),
            ("lava-sim-fused-k", lambda: make_backend("lava-sim", tier="fused-k"), population),
            ("lava-sim-fused-k-rebuild", lambda: make_backend("lava-sim", tier="fused-k", reuse=False), population),
            ("lava-naive", lambda: NaiveLava(tier="stock"), naive_pop)]
    for name, factory, P in runs:
        backend = factory()
        sub = low if P == population else dataclasses.replace(low, T_in=low.T_in[:P], W_h=low.W_h[:P],
                                                              W_out=low.W_out[:P])
        try:
            fig, counts = _time(backend, sub, v0[:P], naive_steps if name == "lava-naive" else steps,
                                1 if name == "lava-naive" else 3)
        finally:
            backend.close()
        key = (P, name == "lava-naive")
        if key not in refs:
            nb = make_backend("numpy")
            refs[key] = nb.rollout(nb.compile(sub), ToyLoop(sub, naive_steps if key[1] else steps, seed=1), v0[:P])
        assert np.array_equal(counts, refs[key]), f"{name} spike counts differ from numpy"
        figures[name] = fig["stepping"]
        builds[name] = fig
        how = "loading the live graph in" if name.startswith("lava-sim") and not fig["built"] and name != "lava-sim-stock" \
            else "building the graph in"
        print(f"{name:24s} {P:3d} x {n_neurons} neurons, closed loop: {fig['stepping']:10.0f} network-timesteps/s"
              f"  ({fig['with_build']:.0f}/s counting everything, {how} {fig['build_s']:.3f} s)", flush=True)
    # numpy once more, last: the machine is shared, so the ratios use numpy's best of both ends of the run
    nb = make_backend("numpy")
    again, _ = _time(nb, low, v0, steps, 3)
    print(f"{'numpy-fixed (again)':24s} {population:3d} x {n_neurons} neurons, closed loop: "
          f"{again['stepping']:10.0f} network-timesteps/s", flush=True)
    out["numpy_fixed_first_and_last"] = [figures["numpy-fixed"], again["stepping"]]
    if again["stepping"] > figures["numpy-fixed"]:
        figures["numpy-fixed"], builds["numpy-fixed"] = again["stepping"], again
    out["network_timesteps_per_s"] = figures
    out["per_rollout"] = builds
    out["ratios"] = {
        "stock_vs_naive": figures["lava-sim-stock"] / figures["lava-naive"],
        "fused_vs_naive": figures["lava-sim-fused"] / figures["lava-naive"],
        "fused_k_vs_naive": figures["lava-sim-fused-k"] / figures["lava-naive"],
        "stock_vs_numpy": figures["lava-sim-stock"] / figures["numpy-fixed"],
        "fused_vs_numpy": figures["lava-sim-fused"] / figures["numpy-fixed"],
        "fused_k_vs_numpy": figures["lava-sim-fused-k"] / figures["numpy-fixed"],
        "fused_k_with_build_vs_numpy": builds["lava-sim-fused-k"]["with_build"] / builds["numpy-fixed"]["with_build"],
        "fused_k_rebuild_with_build_vs_numpy": (builds["lava-sim-fused-k-rebuild"]["with_build"]
                                                / builds["numpy-fixed"]["with_build"]),
        "fused_with_build_vs_numpy": builds["lava-sim-fused"]["with_build"] / builds["numpy-fixed"]["with_build"],
    }
    for k, v in out["ratios"].items():
        print(f"{k:36s} {v:8.2f}x")
    return out
