"""The training loop: ask -> evaluate (inference only, on any backend) -> tell -> log -> checkpoint.

Run directory: config.json, versions.json, metrics.jsonl (one row per generation), fitness.jsonl
(per-member fitness), checkpoint.npz (atomic, every generation) and best.npz (the best deterministic
network so far).  A killed run resumed from its directory ends exactly where an uninterrupted one would.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import deployed, registry
from ..connectivity import Masks, deterministic_flat
from ..errors import UserError
from ..spec import NetworkSpec
from ..strategies.ec import EC
from . import checkpoint as ckpt
from .config import TrainConfig
from .evaluator import make_evaluator
from .normalizer import RunningNorm
from .rollout import EvalRequest
from .versions import versions

Progress = Callable[[dict[str, Any]], None]


def network_spec(cfg: TrainConfig) -> NetworkSpec:
    """The network for the task's observation/action sizes, with the config's overrides."""
    task = registry.make_task(cfg.task, 1, **cfg.task_options)
    try:
        return NetworkSpec.from_dict({**cfg.network, "n_obs": task.n_obs, "n_act": task.n_act})
    finally:
        task.close()


def _start(cfg: TrainConfig, run_dir: Path) -> None:
    if (run_dir / "checkpoint.npz").exists():
        raise UserError(f"{run_dir} already holds a run; resume it with --resume {run_dir} or pick another --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    (run_dir / "versions.json").write_text(json.dumps(versions(), indent=2))


def load_config(run_dir: Path) -> TrainConfig:
    """The resolved config a run directory was started with."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise UserError(f"{run_dir}: not an ec-neuro run directory (no config.json)")
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()), str(path))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: corrupt ({e})") from None


def train(cfg: TrainConfig, run_dir: str | Path, progress: Progress | None = None) -> dict[str, Any]:
    """Start a new run in run_dir; returns the last metrics row."""
    run_dir = Path(run_dir)
    network_spec(cfg)  # validate the network and the backend options before anything is written
    registry.make_backend(cfg.backend, **cfg.backend_options).close()
    _start(cfg, run_dir)
    return _loop(cfg, run_dir, None, progress)


def resume(run_dir: str | Path, generations: int | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Continue a killed run from its last checkpoint (optionally to a new number of generations)."""
    run_dir = Path(run_dir)
    cfg = load_config(run_dir)
    if generations is not None:
        cfg = TrainConfig.from_dict({**cfg.to_dict(), "generations": generations})
    return _loop(cfg, run_dir, ckpt.load(run_dir / "checkpoint.npz"), progress)


def _loop(cfg: TrainConfig, run_dir: Path, ck: ckpt.Checkpoint | None, progress: Progress | None) -> dict[str, Any]:
    spec = network_spec(cfg)
    strategy = EC(spec.n_connections, cfg.ec_params())
    if ck is None:
        state, norm, counters = strategy.init(), RunningNorm.empty(spec.n_obs), {"wall_time": 0.0, "env_steps": 0,
                                                                                  "best_det": None}
    else:
        state, norm, counters = ck.state, ck.norm, ck.counters
    for name in ("metrics.jsonl", "fitness.jsonl"):
        ckpt.truncate_jsonl(run_dir / name, state.generation)
    rows = ckpt.read_jsonl(run_dir / "metrics.jsonl")
    last: dict[str, Any] = rows[-1] if rows else {}
    if last and cfg.target_return is not None and last["det_return"] >= cfg.target_return:
        return last
    evaluator = make_evaluator(cfg.workers)
    P = cfg.population
    slots = np.arange(P + cfg.det_episodes)
    try:
        while state.generation < cfg.generations:
            t0 = time.perf_counter()
            rho, gen = strategy.ask(state)
            req = EvalRequest(spec.to_dict(), cfg.task, cfg.task_options, cfg.backend, cfg.backend_options,
                              cfg.precision, cfg.seed, gen, P, rho, norm.mean, norm.std, slots)
            res = evaluator.evaluate(req)
            fit, det = res.fitness[:P], res.fitness[P:]
            mean_obs, std_obs = norm.mean, norm.std
            state, smetrics = strategy.tell(state, fit, cfg.seed)
            norm.update(res.obs_count, res.obs_sum, res.obs_sumsq)
            counters["wall_time"] += time.perf_counter() - t0
            counters["env_steps"] += int(res.length.sum())
            finite = fit[np.isfinite(fit)]
            row: dict[str, Any] = {
                "generation": gen, "best": float(finite.max()) if finite.size else None,
                "mean": float(finite.mean()) if finite.size else None,
                "det_return": float(np.nanmean(det)) if np.isfinite(det).any() else None,
                "spike_rate": float(res.spike_rate[:P].mean()), "mean_rho": smetrics["mean_rho"],
                "n_nonfinite": smetrics["n_nonfinite"], "wall_time": counters["wall_time"],
                "gen_time": time.perf_counter() - t0, "env_steps": counters["env_steps"],
                "mean_length": float(res.length[:P].mean()), "bias_saturated": res.bias_saturated,
            }
            for key, vals in res.extra.items():
                row[f"det_{key}"] = float(np.mean(vals[P:]))
                row[f"mean_{key}"] = float(np.mean(vals[:P]))
            ckpt.append_jsonl(run_dir / "fitness.jsonl", {"generation": gen, "fitness": [
                None if not np.isfinite(f) else float(f) for f in fit]})
            ckpt.append_jsonl(run_dir / "metrics.jsonl", row)
            det_ret = row["det_return"]
            if det_ret is not None and (counters["best_det"] is None or det_ret >= counters["best_det"]):
                counters["best_det"] = det_ret
                net = deployed.Deployed(spec, Masks.stack(spec, [deterministic_flat(rho)]), mean_obs, std_obs,
                                        cfg.task, {"generation": gen, "det_return": det_ret,
                                                   "precision": cfg.precision, "seed": cfg.seed})
                deployed.save(run_dir / "best.npz", net)
            ckpt.save(run_dir / "checkpoint.npz", ckpt.Checkpoint(state, norm, counters, cfg.to_dict()))
            last = row
            if progress:
                progress(row)
            if cfg.target_return is not None and det_ret is not None and det_ret >= cfg.target_return:
                break
    except BaseException:
        evaluator.close(abort=True)
        raise
    evaluator.close()
    return last
