"""`ecneuro bench --suite events`: EGGROLL against full-rank ES on the EGGROLL paper's N-MNIST classifier.

The network is spec/classifier.py's two-layer LIF classifier at N-MNIST's sizes: 2312 inputs (34 x 34 x 2) ->
128 LIF -> 10 classes, membrane readout (298,378 parameters), population 1,024, mini-batch 64, T = 5 time bins,
EGGROLL rank 4.  A generation is what training runs: strategy.ask -> networks/lif2.classify over every member
(the forward each method is fastest with: EGGROLL one shared GEMM X W1c plus one thin GEMM X [A_1 .. A_K] and the
rank-r products fused into the LIF kernel; ES one (T B x 2312) x (2312 x 128) GEMM per antithetic pair, float32,
each pair's noise drawn once) -> minus cross-entropy -> strategy.tell (ES regenerates the noise, as it always
does).  Frames are synthetic (Poisson counts at N-MNIST's mean density, ~0.37 events per input per bin, scaled
so E ||x_t||^2 = 1 as the tasks deliver them): the cost of both forwards does not depend on the data.

Columns: s/gen (median) = ask + eval (classify + fitness) + tell; noise = the seconds of drawing every pair's
noise once (the forward and tell each draw it: the framework regenerates noise instead of storing it).

Timing: the two methods alternate round by round in one process (a change of load hits both), after a warm-up
generation each; the median of the rounds is reported.  Peak memory: each method runs in a fresh child process
(`python -c ...`, exec'd, so nothing of this process is counted); the child makes one warm-up generation, resets
its peak-RSS mark (writing 5 to /proc/self/clear_refs) and reads VmHWM after one more generation from
/proc/self/status (peak resident memory of the whole process during that generation, interpreter and numba
included), then measures a third generation under tracemalloc (the peak of the Python/numpy allocations that a
generation makes on top of what it started with).
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

FULL = {"n_obs": 2312, "hidden": 128, "n_classes": 10, "population": 1024, "batch": 64, "T": 5, "rank": 4}
QUICK = {"n_obs": 578, "hidden": 16, "n_classes": 10, "population": 16, "batch": 8, "T": 3, "rank": 2}
METHODS = ("eggroll", "es")
COMMAND = "ecneuro bench --suite events --json bench-events.json"


def frames(cfg: dict[str, Any], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.poisson(0.37, (cfg["batch"], cfg["T"], cfg["n_obs"])).astype(np.float32)
    X *= np.float32(1.0 / np.sqrt((X ** 2).sum(-1).mean()))
    return X, rng.integers(0, cfg["n_classes"], cfg["batch"])


def build(method: str, cfg: dict[str, Any]) -> tuple[Any, Any, Any]:
    from .. import registry
    spec = registry.network_spec({"kind": "lif-classifier", "n_obs": cfg["n_obs"], "n_act": cfg["n_classes"],
                                  "hidden": cfg["hidden"]})
    cls = registry.method_class(method)
    settings = dict(type(spec).strategy_defaults[method])
    if method == "eggroll":
        settings["rank"] = cfg["rank"]
    strategy = cls.for_network(spec, cfg["population"], cls.Params(**settings))
    return spec, strategy, strategy.init(0)


def generation(spec: Any, strategy: Any, state: Any, X: np.ndarray, y: np.ndarray) -> tuple[Any, dict[str, float]]:
    from ..networks.lif2 import classify, neg_cross_entropy
    P = strategy.population
    t0 = time.perf_counter()
    pop = strategy.ask(state)
    t1 = time.perf_counter()
    logits, spikes = classify(spec, pop, np.arange(P), X)
    fitness = neg_cross_entropy(logits, y)
    t2 = time.perf_counter()
    state, _ = strategy.tell(state, pop, fitness)
    t3 = time.perf_counter()
    rate = float(spikes.mean() / (X.shape[0] * X.shape[1] * spec.hidden))
    return state, {"ask_s": t1 - t0, "evaluate_s": t2 - t1, "tell_s": t3 - t2, "sec_per_generation": t3 - t0,
                   "hidden_spike_rate": rate}


def _status(key: str) -> float:
    """A /proc/self/status memory line in MiB (nan where there is none)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _child(method: str, cfg_json: str) -> None:
    """In a fresh process: one method's generation memory (printed as one JSON line)."""
    cfg = json.loads(cfg_json)
    X, y = frames(cfg)
    spec, strategy, state = build(method, cfg)
    state, _ = generation(spec, strategy, state, X, y)        # warm-up: numba's cache, BLAS buffers
    gc.collect()
    before = _status("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    state, t = generation(spec, strategy, state, X, y)
    peak = _status("VmHWM")
    gc.collect()
    tracemalloc.start()
    state, _ = generation(spec, strategy, state, X, y)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"rss_before_MiB": before, "peak_rss_MiB": peak, "peak_over_before_MiB": peak - before,
                      "hwm_reset": reset, "tracemalloc_peak_MiB": traced / 2**20,
                      "sec_per_generation": t["sec_per_generation"]}))


def memory(method: str, cfg: dict[str, Any]) -> dict[str, Any]:
    code = f"from ec_neuro.bench.events import _child; _child({method!r}, {json.dumps(json.dumps(cfg))})"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
                           os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           os.environ.get("PYTHONPATH", "")]))})
    if p.returncode:
        raise RuntimeError(f"the {method} memory child failed ({p.returncode}): {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(quick: bool = False, rounds: int | None = None, **sizes: Any) -> dict[str, Any]:
    """Seconds per generation of EGGROLL and ES side by side (median of `rounds`), each one's peak memory from
    its own child process; prints a table and the ratios."""
    import numba
    cfg = {**(QUICK if quick else FULL), **sizes}
    R = rounds or (1 if quick else 5)
    X, y = frames(cfg)
    threads = {"numba": numba.get_num_threads(), "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
    out: dict[str, Any] = {"config": cfg, "rounds": R, "threads": threads, "command": COMMAND, "methods": {}}
    print(f"events: LIF classifier {cfg['n_obs']} -> {cfg['hidden']} -> {cfg['n_classes']}, population "
          f"{cfg['population']}, batch {cfg['batch']}, T {cfg['T']}, EGGROLL rank {cfg['rank']}; median of {R} "
          f"interleaved generation(s); threads {threads}", flush=True)
    built = {}
    for m in METHODS:
        spec, strategy, state = build(m, cfg)
        state, _ = generation(spec, strategy, state, X, y)    # warm-up (numba compile or cache load)
        built[m] = [spec, strategy, state]
    times: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    for _ in range(R):
        for m in METHODS:
            spec, strategy, state = built[m]
            built[m][2], t = generation(spec, strategy, state, X, y)
            times[m].append(t)
            gc.collect()
    for m in METHODS:
        spec, strategy, _ = built[m]
        med = {k: float(np.median([t[k] for t in times[m]])) for k in times[m][0]}
        pop = strategy.ask(built[m][2])
        t0 = time.perf_counter()               # drawing every pair's noise once: what the forward and tell each pay
        for k in range(strategy.population // 2):
            pop.noise(k) if m == "es" else pop.factors(k)
        med["noise_draw_s"] = time.perf_counter() - t0
        out["methods"][m] = {**med, "all_sec_per_generation": [t["sec_per_generation"] for t in times[m]],
                             "n_params": spec.n_params, "noise_floats_per_pair": int(pop.perturbation_floats),
                             "strategy": {k: getattr(strategy.params, k) for k in strategy.params.__dataclass_fields__},
                             "memory": memory(m, cfg)}
    eg, es = out["methods"]["eggroll"], out["methods"]["es"]
    out["es_over_eggroll_sec_per_generation"] = es["sec_per_generation"] / eg["sec_per_generation"]
    out["es_over_eggroll_peak_rss"] = es["memory"]["peak_rss_MiB"] / eg["memory"]["peak_rss_MiB"]
    out["es_over_eggroll_tracemalloc"] = (es["memory"]["tracemalloc_peak_MiB"]
                                          / max(eg["memory"]["tracemalloc_peak_MiB"], 1e-9))
    print(f"{'method':8s} {'s/gen':>7s} {'ask':>6s} {'eval':>6s} {'tell':>6s} {'noise':>6s} {'peak RSS MiB':>13s} "
          f"{'(+ over start)':>14s} {'tracemalloc MiB':>16s} {'noise floats/pair':>18s}", flush=True)
    for m in METHODS:
        r, mem = out["methods"][m], out["methods"][m]["memory"]
        print(f"{m:8s} {r['sec_per_generation']:7.3f} {r['ask_s']:6.3f} {r['evaluate_s']:6.3f} {r['tell_s']:6.3f} "
              f"{r['noise_draw_s']:6.3f} "
              f"{mem['peak_rss_MiB']:13.0f} {mem['peak_over_before_MiB']:14.0f} {mem['tracemalloc_peak_MiB']:16.1f} "
              f"{r['noise_floats_per_pair']:18,d}", flush=True)
    print(f"ES / EGGROLL: {out['es_over_eggroll_sec_per_generation']:.2f}x seconds per generation (target >= 5x; "
          f"the paper 2.23x), {out['es_over_eggroll_peak_rss']:.2f}x peak RSS, "
          f"{out['es_over_eggroll_tracemalloc']:.1f}x traced allocation peak  [{COMMAND}]", flush=True)
    return out
