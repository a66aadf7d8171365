"""Benchmark: population-of-64 closed-loop throughput, brian2 (cython) against the numpy float backend.

Both run the same 64 random 256-neuron networks (CartPole shape: 4 inputs, 2 outputs, K = 33 substeps per
control step) through `Backend.rollout` with the synthetic closed loop `ToyLoop` (no environment cost; every
member runs all T steps).  Throughput = P * T / rollout seconds, in
member control steps per second, from the fastest of `repeats` rollouts of each backend (the machine is
shared; every time is kept in `rollout_all_s`).  Spike counts are checked equal: identical work.
Run: `python -m ec_neuro.bench.brian2 [--quick]`.
"""
from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from ..backends.numpy import NumpyBackend
from ..compilers.common import Lowered, lower
from ..sample.masks import initial_v, random_masks
from ..spec import NetworkSpec
from ..backends.toyloop import ToyLoop

POPULATION = 64


def _time_rollout(be: Any, low: Lowered, v0: np.ndarray, steps: int) -> tuple[float, float, np.ndarray]:
    """(compile seconds, rollout seconds, spike counts)."""
    t0 = time.perf_counter()
    prog = be.compile(low)
    t1 = time.perf_counter()
    counts = be.rollout(prog, ToyLoop(low, steps, min_steps=steps), v0)
    return t1 - t0, time.perf_counter() - t1, counts


def run(quick: bool = False) -> dict[str, Any]:
    """Measure and print; returns the figures (seconds, member control steps per second, ratio)."""
    from ..backends.brian2 import Brian2Backend
    steps, repeats = (100, 2) if quick else (1000, 3)
    spec = NetworkSpec(n_obs=4, n_act=2, n_neurons=256)
    low = lower(spec, random_masks(spec, POPULATION, seed=0, p=0.5), "float")
    v0 = initial_v(spec.n_neurons, 0, 0, np.arange(POPULATION))
    out: dict[str, Any] = {"suite": "brian2", "population": POPULATION, "neurons": spec.n_neurons,
                           "control_steps": steps, "substeps": steps * spec.neuron.substeps, "quick": quick}
    nb, b2 = NumpyBackend(), Brian2Backend(target="cython")
    try:
        t0 = time.perf_counter()  # warm-up: numba JIT / Cython compile (cold cache ~30 s) or cache load
        _time_rollout(nb, low, v0, 2)
        _time_rollout(b2, low, v0, 2)
        out["warmup_s"] = round(time.perf_counter() - t0, 2)
        res, times = {}, {"numpy": [], "brian2": []}
        for _ in range(repeats):  # interleaved, so a burst of load elsewhere hits both
            for name, be in (("numpy", nb), ("brian2", b2)):
                c, r, counts = _time_rollout(be, low, v0, steps)
                res[name] = counts
                times[name].append((c, r))
        for name, tt in times.items():
            r = min(t[1] for t in tt)
            out[name] = {"compile_s": round(min(t[0] for t in tt), 3), "rollout_s": round(r, 3),
                         "rollout_all_s": [round(t[1], 3) for t in tt],
                         "member_steps_per_s": round(POPULATION * steps / r, 1), "spikes": int(res[name].sum())}
        out["counts_identical"] = bool(np.array_equal(res["numpy"], res["brian2"]))
        out["brian2_over_numpy"] = round(out["brian2"]["member_steps_per_s"] / out["numpy"]["member_steps_per_s"], 3)
        out["target_met"] = out["brian2_over_numpy"] >= 0.25
        out["brian2_config"] = b2.info()
    finally:
        b2.close()
    print(f"brian2 bench: population {POPULATION} x {spec.n_neurons} neurons, closed loop, {steps} control steps "
          f"({out['substeps']} substeps), warm-up {out['warmup_s']} s")
    for name in ("numpy", "brian2"):
        f = out[name]
        print(f"  {name:7s} rollout {f['rollout_s']:8.3f} s (best of {f['rollout_all_s']})  compile {f['compile_s']:.3f} s"
              f"  {f['member_steps_per_s']:10.1f} member-steps/s  ({f['spikes']} spikes)")
    print(f"  brian2 / numpy = {out['brian2_over_numpy']:.3f} (target >= 0.25: {'met' if out['target_met'] else 'MISSED'});"
          f" spike counts identical: {out['counts_identical']}")
    return out


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
