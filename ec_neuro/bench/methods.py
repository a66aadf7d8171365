"""`ecneuro bench --suite methods`: whole generations of every method, measured side by side in one process.

EC (ei-rsnn), ES-RSNN and EGGROLL-RSNN (dense-rsnn), ES-GRU (hidden 256) and ES-LSTM (hidden 128) at Humanoid
sizes (348 observations, 17 actions, 33 substeps), one population and one episode length for all.  A generation
is what training runs: strategy.ask -> host.rollout.run_request (members regenerated in the worker, the closed
loop on the numpy backend or the network's population forward) -> strategy.tell.  The task is synthetic (fixed
N(0, 1) observations from a table, every member plays exactly `steps` steps, no physics: MuJoCo's cost is the
same for every method and `--suite core` measures it), so the figures are the methods' own.

Reported per method: seconds per generation (ask, evaluate, tell), member-env-steps/s of the evaluation, and the
ratios EC / ES-RSNN and EGGROLL-RSNN / ES-RSNN per generation; for ES and EGGROLL the perturbation memory: floats
per pair and per matrix (m n for ES, r (m + n) for EGGROLL) and the bytes the population forward holds for the
whole population, measured, with the allocation peak of building it.
"""
from __future__ import annotations

import gc
import math
import time
import tracemalloc
from dataclasses import asdict
from typing import Any

import numpy as np

from .. import registry
from ..backends.numpy import NumpyBackend
from ..host.rollout import EvalRequest, run_request

N_OBS, N_ACT = 348, 17
METHODS = (("EC", "ec", "ei-rsnn"), ("ES-RSNN", "es", "dense-rsnn"), ("EGGROLL-RSNN", "eggroll", "dense-rsnn"),
           ("ES-GRU", "es", "gru"), ("ES-LSTM", "es", "lstm"))


class SyntheticTask:
    """P copies of a task without physics: observations N(0, 1) from a fixed table, every episode `steps` steps."""

    defaults: dict[str, Any] = {}

    def __init__(self, population: int, n_obs: int = N_OBS, n_act: int = N_ACT, steps: int = 1000) -> None:
        self.n_obs, self.n_act, self.max_steps, self.control_period = n_obs, n_act, steps, None
        self.table = np.random.default_rng(0).normal(size=(16, population, n_obs))
        self.P = population

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        P = len(seeds)
        if P > self.P:
            self.__init__(P, self.n_obs, self.n_act, self.max_steps)  # type: ignore[misc]
        self.t = 0
        self.returns = np.zeros(P)
        self.lengths = np.zeros(P, np.int64)
        return self.table[0, :P].copy()

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        P = len(active)
        self.t += 1
        self.returns += np.where(active, 1.0 - np.mean(actions * actions, axis=1), 0.0)
        self.lengths += active
        done = ~active | (self.lengths >= self.max_steps)
        return self.table[self.t % 16, :P], done

    def metrics(self) -> dict[str, np.ndarray]:
        return {}

    def close(self) -> None:
        pass


def _strategy(method: str, network: str, P: int) -> tuple[Any, Any]:
    spec = registry.network_spec({"kind": network, "n_obs": N_OBS, "n_act": N_ACT})
    cls = registry.method_class(method)
    defaults = dict(getattr(type(spec), "strategy_defaults", {}).get(method, {}))
    return spec, cls.for_network(spec, P, cls.Params(**defaults))


def generation(spec: Any, strategy: Any, state: Any, task: SyntheticTask, backend: Any) -> tuple[Any, dict[str, float]]:
    """One generation as training runs it; the seconds of ask, evaluate and tell."""
    P = strategy.population
    t0 = time.perf_counter()
    pop = strategy.ask(state)
    t1 = time.perf_counter()
    req = EvalRequest(pop, spec.to_dict(), None, "numpy", {}, "float", np.zeros(spec.n_obs), np.ones(spec.n_obs),  # type: ignore[arg-type]
                      np.arange(P))
    res = run_request(req, backend, task)
    t2 = time.perf_counter()
    state, _ = strategy.tell(state, pop, res.fitness)
    t3 = time.perf_counter()
    return state, {"ask_s": t1 - t0, "evaluate_s": t2 - t1, "tell_s": t3 - t2, "sec_per_generation": t3 - t0,
                   "env_steps": int(res.length.sum()), "spike_rate": float(res.spike_rate.mean())}


def perturbation_memory(spec: Any, strategy: Any, state: Any) -> dict[str, Any]:
    """Floats of noise per pair (per matrix: m n or r (m + n)), and the bytes the population forward of all P members
    holds, with the allocation peak of ask + building it (tracemalloc)."""
    from ..host.weights import forward
    pop = strategy.ask(state)
    rank = getattr(pop, "rank", None)
    per_matrix = {name: (s[0] * s[1] if rank is None else rank * (s[0] + s[1])) for name, s in spec.layout
                  if len(s) == 2}
    gc.collect()
    tracemalloc.start()
    net = forward(spec, strategy.ask(state), np.arange(strategy.population))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out = {"floats_per_pair": int(pop.perturbation_floats), "floats_per_matrix": per_matrix,
           "population_forward_MB": net.nbytes / 1e6, "build_peak_MB": peak / 1e6}
    del net
    gc.collect()
    return out


def run(quick: bool = False, population: int | None = None, steps: int | None = None, rounds: int | None = None,
        methods: tuple[tuple[str, str, str], ...] = METHODS) -> dict[str, Any]:
    """Every method's generation, `rounds` times (the best round kept), after a short warm-up generation that
    compiles the kernels; prints a line per method and the ratios."""
    P = population or (64 if quick else 1024)
    T = steps or (10 if quick else 1000)
    R = rounds or 1
    import numba
    out: dict[str, Any] = {"population": P, "episode_steps": T, "rounds": R, "n_obs": N_OBS, "n_act": N_ACT,
                           "numba_threads": numba.get_num_threads(), "methods": {}}
    print(f"methods, Humanoid sizes ({N_OBS} obs, {N_ACT} actions), population {P}, episodes of {T} steps, "
          f"no physics; best of {R} generation(s) each", flush=True)
    backend = NumpyBackend()
    built = {}
    for name, method, network in methods:
        spec, strategy = _strategy(method, network, P)
        state = strategy.init(0)
        state, _ = generation(spec, strategy, state, SyntheticTask(P, steps=2), backend)  # compile, warm caches
        built[name] = (spec, strategy, state)
    task = SyntheticTask(P, steps=T)
    for r in range(R):  # round by round, so a change of load hits every method alike
        for name, (spec, strategy, state) in built.items():
            state, t = generation(spec, strategy, state, task, backend)
            built[name] = (spec, strategy, state)
            t["member_env_steps_per_s"] = t["env_steps"] / t["evaluate_s"]
            best = out["methods"].get(name)
            if best is None or t["sec_per_generation"] < best["sec_per_generation"]:
                out["methods"][name] = {"method": built[name][1].name, "network": spec.kind, **t}
            gc.collect()
    for name, (spec, strategy, state) in built.items():
        row = out["methods"][name]
        row["strategy"] = asdict(strategy.params)
        if strategy.name != "ec":
            row["memory"] = perturbation_memory(spec, strategy, state)
        mem = row.get("memory", {})
        print(f"{name:14s} {row['sec_per_generation']:8.2f} s/generation (ask {row['ask_s']:.2f}, evaluate "
              f"{row['evaluate_s']:.2f}, tell {row['tell_s']:.2f})  {row['member_env_steps_per_s']:10,.0f} "
              f"member-env-steps/s  spike rate {row['spike_rate']:.4f}"
              + (f"  noise {mem['floats_per_pair']:,} floats/pair, forward {mem['population_forward_MB']:.1f} MB "
                 f"(peak {mem['build_peak_MB']:.1f} MB)" if mem else ""), flush=True)
    m = out["methods"]
    sec = lambda k: m[k]["sec_per_generation"] if k in m else math.nan  # noqa: E731
    out["ratios"] = {"EC_over_ES_RSNN_per_generation": sec("ES-RSNN") / sec("EC"),
                     "EGGROLL_over_ES_RSNN_per_generation": sec("ES-RSNN") / sec("EGGROLL-RSNN"),
                     "EC_over_ES_GRU_per_generation": sec("ES-GRU") / sec("EC"),
                     "EC_over_ES_LSTM_per_generation": sec("ES-LSTM") / sec("EC")}
    if "ES-RSNN" in m and "EGGROLL-RSNN" in m:
        es, eg = m["ES-RSNN"]["memory"], m["EGGROLL-RSNN"]["memory"]
        out["ratios"]["perturbation_floats_ES_over_EGGROLL"] = es["floats_per_pair"] / eg["floats_per_pair"]
        out["ratios"]["forward_bytes_ES_over_EGGROLL"] = es["population_forward_MB"] / eg["population_forward_MB"]
    r = out["ratios"]
    print(f"EC / ES-RSNN per generation: {r['EC_over_ES_RSNN_per_generation']:.2f}x (target >= 4x); "
          f"EGGROLL-RSNN / ES-RSNN: {r['EGGROLL_over_ES_RSNN_per_generation']:.2f}x (target >= 2x); "
          f"EC / ES-GRU {r['EC_over_ES_GRU_per_generation']:.2f}x, EC / ES-LSTM {r['EC_over_ES_LSTM_per_generation']:.2f}x",
          flush=True)
    if "perturbation_floats_ES_over_EGGROLL" in r:
        print(f"perturbation floats per pair ES / EGGROLL: {r['perturbation_floats_ES_over_EGGROLL']:.0f}x; bytes "
              f"the population forward holds: {r['forward_bytes_ES_over_EGGROLL']:.0f}x", flush=True)
    return out
