"""Workers, measured side by side in one run: generation time against worker count (1, 2) for the process and
Ray workers (and Ray with rho sent every generation instead of replayed: `ray2-rho`), and the bytes a generation sends to Ray actors against a design sending every member's masks.

Hopper-v5 at its default population (256; quick: CartPole-v1, 16) + 2 deterministic slots, numpy float.  Each evaluator runs the
training loop itself (ask -> evaluate -> tell -> sync -> normaliser) from the same seed: one warm-up generation
(worker start, JIT caches, the one-off state sent to each actor), then timed generations; the evaluators take
turns round by round, so a change of machine load hits all of them, and every generation's fitness is checked
against the first evaluator's, bit for bit.  Beside wall-clock times it reports, from /proc, the CPU seconds
each worker used: total / busiest worker is the speed-up the split allows on cores nobody else uses, and
worker CPU / wall shows how much of the machine the run actually got; the driver's own CPU time per generation
(ask, tell, normaliser, and for Ray the scheduling) is the part no worker count shortens.  Before the
evaluators, `bench/machine.py` measures what two processes at once give on this machine for the task's own
environment stepping and for integer arithmetic, the ceiling of any evaluator's 2-over-1 at that moment (on a
virtual machine it moves with the host's load: compare it with the evaluators' figures of the same run).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import time
from typing import Any

import numpy as np

from .. import registry
from ..host.config import resolve
from ..host.normalizer import RunningNorm
from ..host.rollout import EvalRequest
from ..host.workers import ProcessWorkers

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """utime + stime of a process, seconds (0 once it is gone)."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _pids(w: Any) -> list[int]:
    if hasattr(w, "actor_pids"):
        return [p for p in w.actor_pids() if p]
    return [c.proc.pid for c in w._children]


def _make(name: str) -> Any:
    """process1/2: worker processes; ray1/2: Ray actors replaying tell; ray2-rho: rho sent every generation."""
    n = int(name.split("-")[0][-1])
    if name.startswith("process"):
        return ProcessWorkers(n)
    from ..host.ray_workers import RayWorkers
    return RayWorkers(local=n, log_to_driver=False, replay=not name.endswith("-rho"))


def _generations(name: str, cfg: Any, gens: int) -> dict[str, Any]:
    """One evaluator: warm-up generation 0, then `gens` timed generations of the training loop."""
    spec = registry.network_spec(cfg.network)
    strategy = registry.method_class(cfg.method).for_network(spec, cfg.population, cfg.strategy_params())
    state, norm = strategy.init(cfg.seed), RunningNorm.empty(spec.n_obs)
    slots = np.arange(cfg.population + cfg.det_episodes)
    t = time.perf_counter()
    w = _make(name)
    out: dict[str, Any] = {"start_s": time.perf_counter() - t, "gen_s": [], "eval_s": [], "worker_cpu_s": [],
                           "load": [], "fitness": [], "bytes": [], "env_steps": [], "driver_cpu_s": []}
    try:
        w.sync(strategy, state)
        for g in range(gens + 1):
            pids = _pids(w)
            c0 = [_cpu_s(p) for p in pids]
            b0 = dict(vars(w.t)) if hasattr(w, "t") else {}
            d0 = time.process_time()
            t0 = time.perf_counter()
            pop = strategy.ask(state)
            res = w.evaluate(EvalRequest(pop, cfg.network, cfg.task_ref, cfg.backend, cfg.backend_options,
                                         cfg.precision, norm.mean, norm.std, slots))
            t1 = time.perf_counter()
            state, _ = strategy.tell(state, pop, res.fitness[:cfg.population])
            w.sync(strategy, state)
            norm.update(res.obs_count, res.obs_sum, res.obs_sumsq)
            t2 = time.perf_counter()
            d1 = time.process_time()
            out["fitness"].append(res.fitness.copy())
            if b0:
                b1 = vars(w.t)
                out["bytes"].append({k: b1[k] - b0[k] for k in b1 if k.startswith("bytes_")})
            if g == 0:
                out["warmup_s"] = t2 - t0
                continue
            out["gen_s"].append(t2 - t0)
            out["eval_s"].append(t1 - t0)
            out["worker_cpu_s"].append([_cpu_s(p) - c for p, c in zip(pids, c0)])
            out["driver_cpu_s"].append(d1 - d0)
            out["load"].append(os.getloadavg()[0])
            out["env_steps"].append(int(res.length.sum()))
    finally:
        w.close()
    out["dim"] = spec.n_connections
    return out


def run(quick: bool = False, population: int | None = None, generations: int = 3, rounds: int = 4,
        machine: bool = True) -> dict[str, Any]:
    """Generation time vs workers (process 1/2, Ray 1/2) and bytes per generation; prints a line per figure.
    population: default the task's (Hopper-v5: 256); quick: CartPole-v1, 16, one round of 2 generations;
    machine: first measure what 2 processes at once give on this machine (bench/machine.py)."""
    task = "Hopper-v5" if not quick and importlib.util.find_spec("mujoco") is not None else "CartPole-v1"
    det, gens = 2, generations
    if quick:
        population, gens, rounds = population or 16, 2, 1
    cfg = resolve({"task": task, "population": population, "seed": 0, "det_episodes": det},
                  overrides=["target_return=null"])
    P = cfg.population
    have_ray = importlib.util.find_spec("ray") is not None
    names = ["process1", "process2"] + (["ray1", "ray2", "ray2-rho"] if have_ray else [])
    out: dict[str, Any] = {"task": task, "population": P, "det_episodes": det, "generations": gens, "rounds": rounds,
                           "cores": os.cpu_count(), "rows": []}
    if not have_ray:
        out["note"] = "ray is not installed (pip install 'ec-neuro[ray]'): process workers only"
        print(out["note"])
    if machine:  # what 2 processes at once give on this machine, before any evaluator (bench/machine.py)
        from .machine import scaling
        out["machine"] = m = scaling(kinds=("env", "alu"), seconds=1.0 if quick else 3.0, reps=1 if quick else 2,
                                     env_id=task)
        print(f"machine: 2 processes at once step {task} {m['env']['median']:.2f}x as fast as one alone "
              f"({m['env']['ratios']}); "
              f"integer arithmetic {m['alu']['median']:.2f}x ({m['alu']['ratios']})", flush=True)
    temp = None
    if have_ray:
        from ..host.ray_workers import start_local
        t = time.perf_counter()
        temp = start_local(2, log_to_driver=False)  # one private loopback Ray; ray1 and ray2 use 1 and 2 actors
        out["ray_init_s"] = round(time.perf_counter() - t, 2)
    ref: list[np.ndarray] | None = None
    try:
        for rnd in range(rounds):
            for name in names:
                r = _generations(name, cfg, gens)
                ident = ref is None or all(np.array_equal(a, b, equal_nan=True) for a, b in zip(r["fitness"], ref))
                ref = ref or r["fitness"]
                cpu = r["worker_cpu_s"]
                row = {"round": rnd, "workers": name, "start_s": round(r["start_s"], 2),
                       "warmup_gen_s": round(r["warmup_s"], 2), "gen_s": [round(x, 3) for x in r["gen_s"]],
                       "median_gen_s": round(statistics.median(r["gen_s"]), 3),
                       "eval_s": [round(x, 3) for x in r["eval_s"]], "identical": ident,
                       "worker_cpu_s": [[round(x, 2) for x in c] for c in cpu],
                       "driver_cpu_s": [round(x, 3) for x in r["driver_cpu_s"]],
                       "work_split": [round(sum(c) / max(max(c), 1e-9), 2) for c in cpu],
                       "cpu_share": [round(sum(c) / w, 2) for c, w in zip(cpu, r["gen_s"])],
                       "load_1min": [round(x, 2) for x in r["load"]], "env_steps": r["env_steps"]}
                if r["bytes"]:
                    row["bytes_per_gen"] = r["bytes"][1:]  # after the warm-up generation
                    row["bytes_first_gen"] = r["bytes"][0]
                out["rows"].append(row)
                out["dim"] = r["dim"]
                print(f"round {rnd} {name}: {row['median_gen_s']:.2f} s/generation (median of {gens}), worker "
                      f"CPU/wall {statistics.median(row['cpu_share']):.2f}, load {row['load_1min'][-1]:.1f}, "
                      f"identical {ident}")
    finally:
        if temp is not None:
            import ray
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)
    med = {n: statistics.median([r["median_gen_s"] for r in out["rows"] if r["workers"] == n]) for n in names}
    total = {n: sum(sum(r["gen_s"]) for r in out["rows"] if r["workers"] == n) for n in names}
    out["median_gen_s"], out["total_gen_s"] = med, total
    out["identical"] = all(r["identical"] for r in out["rows"])
    for kind in ("process", "ray"):
        if f"{kind}1" in med:
            rows = [r for r in out["rows"] if r["workers"] == f"{kind}2"]
            # the same generations, every round: total seconds with one worker over total with two
            out[f"{kind}_2_over_1"] = round(total[f"{kind}1"] / total[f"{kind}2"], 3)
            out[f"{kind}_2_over_1_by_round"] = [
                round(sum(r1["gen_s"]) / sum(r2["gen_s"]), 3)
                for r1 in out["rows"] if r1["workers"] == f"{kind}1"
                for r2 in rows if r2["round"] == r1["round"]]
            out[f"{kind}_work_split_2"] = statistics.median([x for r in rows for x in r["work_split"]])
            # from CPU seconds, generation by generation of the same round: (driver + the one worker) /
            # (driver + the busiest of two), the wall-clock ratio two free cores would give
            proj = [(d1 + sum(c1)) / (d2 + max(c2))
                    for r1 in out["rows"] if r1["workers"] == f"{kind}1"
                    for r2 in rows if r2["round"] == r1["round"]
                    for d1, c1, d2, c2 in zip(r1["driver_cpu_s"], r1["worker_cpu_s"], r2["driver_cpu_s"],
                                              r2["worker_cpu_s"])]
            out[f"{kind}_cpu_projected_2_over_1"] = round(statistics.median(proj), 3)
            print(f"{kind}: 2 workers {out[f'{kind}_2_over_1']:.2f}x one (wall clock, the same {gens} generations "
                  f"x {rounds} rounds; by round {out[f'{kind}_2_over_1_by_round']}; target >= 1.8 on 2 free cores); "
                  f"work split {out[f'{kind}_work_split_2']:.2f}; from CPU seconds, 2 free cores would give "
                  f"{out[f'{kind}_cpu_projected_2_over_1']:.2f}x")
    if have_ray:
        D, n = out["dim"], P + det
        sent = [b for r in out["rows"] if r["workers"] == "ray2" for b in r["bytes_per_gen"]]
        per_gen = statistics.median([b["bytes_put"] + b["bytes_args"] + b["bytes_advance"] + b["bytes_full"] +
                                     b["bytes_center"] for b in sent])
        masks = n * D // 8  # every member's masks, one bit per connection
        out["bytes"] = {"per_generation": per_gen, "masks_design": masks, "ratio_vs_masks": per_gen / masks,
                        "center_design": D * 8, "ratio_vs_center": per_gen / (D * 8),
                        "noise_f32_design": n * D * 4,
                        "first_generation": statistics.median(
                            [sum(v for k, v in r["bytes_first_gen"].items() if k != "bytes_returned")
                             for r in out["rows"] if r["workers"] == "ray2"]),
                        "returned_per_generation": statistics.median([b["bytes_returned"] for b in sent])}
        rho = [x for r in out["rows"] if r["workers"] == "ray2-rho" for x in r["bytes_per_gen"]]
        b = out["bytes"]
        b["per_generation_rho_sent"] = statistics.median([x["bytes_put"] + x["bytes_args"] + x["bytes_center"]
                                                          for x in rho])
        out["replay_cost_s"] = round(med["ray2"] - med["ray2-rho"], 3)  # wall clock: noisy on a loaded machine
        print(f"bytes sent per generation to 2 Ray actors: {per_gen:,.0f} B = {100 * b['ratio_vs_masks']:.2f}% of "
              f"sending the masks ({masks:,} B; target <= 1%), {100 * b['ratio_vs_center']:.2f}% of sending rho; "
              f"first generation {b['first_generation']:,.0f} B (the strategy state, once per node); with rho "
              f"sent instead of replayed: {b['per_generation_rho_sent']:,.0f} B")
    return out
