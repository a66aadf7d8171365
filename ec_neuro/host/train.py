"""The training loop: ask -> evaluate (inference only, on any backend) -> tell -> log -> checkpoint.

    pop = strategy.ask(state)                    stage 2: what the members are a function of
    res = workers.evaluate(EvalRequest(pop, ...)) stages 2-5: regenerate, lower, run, fitness (host/rollout.py)
    state, m = strategy.tell(state, pop, fitness) stage 6: update
    metrics.jsonl, fitness.jsonl, checkpoint.npz (atomic), best.npz

A killed run resumed from its directory ends exactly where an uninterrupted one would (host/rundir.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .. import files, registry
from ..errors import UserError
from ..deploy import deployed
from ..deploy import weights as deployed_weights
from ..sample.masks import Masks
from . import checkpoint as ckpt
from . import preflight
from .config import TrainConfig, complete, resolve
from .normalizer import RunningNorm
from .progress import Progress, reporter
from .rollout import EvalRequest
from .rundir import RunDir
from .verify import Verifier
from .versions import versions
from .workers import make_workers


@dataclass
class Run:
    """A run directory as data: its config, its metrics so far, and its best deterministic network."""

    path: Path
    config: TrainConfig

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return files.read_jsonl(self.path / "metrics.jsonl")

    @property
    def last(self) -> dict[str, Any]:
        rows = self.metrics
        return rows[-1] if rows else {}

    @property
    def network(self) -> deployed.Deployed:
        return deployed.load_run(self.path)


def load_config(run_dir: str | Path) -> TrainConfig:
    """The resolved config a run directory was started with."""
    return preflight.load_config(RunDir(run_dir))


def load_run(run_dir: str | Path) -> Run:
    """A run directory (finished, running or killed) as a Run."""
    return Run(Path(run_dir), load_config(run_dir))


def _config(config: TrainConfig | Mapping[str, Any] | None, settings: Mapping[str, Any]) -> TrainConfig:
    if isinstance(config, TrainConfig):
        return complete(TrainConfig.from_dict({**config.to_dict(), **settings}))
    if config is not None and not isinstance(config, Mapping):
        raise UserError(f"config must be a TrainConfig or a dict of settings, got {type(config).__name__}")
    overrides = settings.pop("overrides", ()) if "overrides" in settings else ()
    file = settings.pop("file", None)
    return resolve({**(config or {}), **settings}, file=file, overrides=overrides)


def train(config: TrainConfig | Mapping[str, Any] | None = None, run_dir: str | Path | None = None,
          progress: Progress | str | bool | None = "auto", **settings: Any) -> Run:
    """Start a new run; returns it when done.  `settings` are TrainConfig fields (task="Hopper-v5",
    population=256, strategy={"lr": 0.1}, ...), plus `overrides=["strategy.lr=0.1"]` and `file="run.toml"`.
    run_dir defaults to runs/<task>-<time>; progress: "auto" (a bar or lines on stderr), None, or a callable."""
    cfg = _config(config, dict(settings))
    rd = RunDir(run_dir or f"runs/{cfg.task.replace(':', '.')}-{time.strftime('%Y%m%d-%H%M%S')}")
    preflight.check_train(cfg, rd)  # memory, the directory, the backend, Ray: before any file
    rd.lock()
    try:
        rd.check_new()  # again, holding the lock
        rd.write_json("config.json", cfg.to_dict())
        rd.write_json("versions.json", versions())
        return _loop(cfg, rd, None, reporter(progress, cfg.generations))
    finally:
        rd.unlock()


def resume(run_dir: str | Path, generations: int | None = None, progress: Progress | str | bool | None = "auto",
           workers: int | None = None, ray_address: str | None = None, ray_local: int | None = None,
           time_budget: float | None = None) -> Run:
    """Continue a killed run from its last checkpoint, or extend a finished one to `generations` (or to a larger
    `time_budget` of wall-time seconds); where it runs may change (results do not depend on it): `workers`,
    `ray_address` or `ray_local` given replace the run's placement (a run on Ray resumed without them reattaches
    to the Ray it was configured with)."""
    rd = RunDir(run_dir)
    changes = dict(generations=generations, workers=workers, ray_address=ray_address, ray_local=ray_local,
                   time_budget=time_budget)
    preflight.check_resume(rd, **changes)  # everything refused before the lock is taken
    rd.lock()
    try:
        plan = preflight.check_resume(rd, **changes)
        if plan.changed:
            rd.write_json("config.json", plan.config.to_dict())
        if not (rd / "versions.json").exists():  # a run killed before it wrote them
            rd.write_json("versions.json", versions())
        return _loop(plan.config, rd, plan.checkpoint, reporter(progress, plan.config.generations, plan.done))
    finally:
        rd.unlock()


def _loop(cfg: TrainConfig, rd: RunDir, ck: ckpt.Checkpoint | None, progress: Progress) -> Run:
    spec = registry.network_spec(cfg.network)
    strategy = registry.method_class(cfg.method).for_network(spec, cfg.population, cfg.strategy_params())
    if ck is None:
        state, norm = strategy.init(cfg.seed), RunningNorm.empty(spec.n_obs)
        counters: dict[str, Any] = {"wall_time": 0.0, "env_steps": 0, "best_det": None}
    else:
        state, norm, counters = ck.state, ck.norm, ck.counters
    rows = rd.keep_history(state.generation)
    run = Run(rd.path, cfg)
    last: dict[str, Any] = rows[-1] if rows else {}
    task = cfg.task_ref
    headline = _headline(task)
    entry = cfg.task_entry  # a classification task is evaluated on the data it was trained on: options included
    if headline == "det_accuracy":
        entry = {**cfg.task_entry, "kwargs": {**cfg.task_entry.get("kwargs", {}), **cfg.task_options}}
    if last and _done(cfg, last.get(headline), last.get("confirmed")):
        return run
    P = cfg.population
    slots = np.arange(P + cfg.det_episodes)
    workers = make_workers(cfg.workers, cfg.ray_address, cfg.ray_local, cfg.ray_timeout, cfg.ray_replay)
    verifier = Verifier(cfg, rd.path)
    try:
        workers.sync(strategy, state)
        while state.generation < cfg.generations:
            if cfg.time_budget is not None and counters["wall_time"] >= cfg.time_budget:
                break
            t0 = time.perf_counter()
            pop = strategy.ask(state)
            vplan = verifier.plan(pop)
            res = workers.evaluate(EvalRequest(pop, cfg.network, task, cfg.backend, cfg.backend_options,
                                               cfg.precision, norm.mean, norm.std, slots, cfg.episodes,
                                               vplan))
            verified = verifier.check(vplan, res, pop.generation)  # a difference raises VerificationError
            fit, det = res.fitness[:P], res.fitness[P:]
            mean_obs, std_obs = norm.mean, norm.std
            state, smetrics = strategy.tell(state, pop, fit)
            workers.sync(strategy, state)
            norm.update(res.obs_count, res.obs_sum, res.obs_sumsq)
            counters["wall_time"] += time.perf_counter() - t0
            counters["env_steps"] += int(res.length.sum())
            row = _row(pop.generation, fit, det, res, smetrics, counters, time.perf_counter() - t0, P)
            if verified is not None:
                row["verified"] = verified
            det_ret = row["det_return"]
            confirmed = None
            if _reached(cfg, row.get(headline)) and cfg.confirm_episodes:
                t1 = time.perf_counter()
                confirmed = _confirm(cfg, workers, pop, task, mean_obs, std_obs)
                counters["wall_time"] += time.perf_counter() - t1
                row.update(confirmed=confirmed, wall_time=counters["wall_time"], gen_time=time.perf_counter() - t0)
            files.append_jsonl(rd / "fitness.jsonl", {"generation": pop.generation, "fitness": [
                None if not np.isfinite(f) else float(f) for f in fit]})
            row.update(workers.generation_metrics())
            files.append_jsonl(rd / "metrics.jsonl", row)
            if _better(counters, det_ret, confirmed):
                meta = {"generation": pop.generation, "det_return": det_ret, "precision": cfg.precision,
                        "seed": cfg.seed, "task_entry": entry, "confirmed": confirmed}
                if getattr(spec, "forward", None):  # real weights (ES, EGGROLL): the center, deploy/weights.py
                    meta["method"] = cfg.method
                    deployed_weights.save(rd / "best.npz", deployed_weights.WeightsNetwork(
                        spec, pop.deterministic(), mean_obs, std_obs, cfg.task, meta))
                else:
                    net = deployed.Deployed(spec, Masks.stack(spec, [pop.deterministic()]), mean_obs, std_obs,
                                            cfg.task, meta)
                    deployed.save(rd / "best.npz", net)
            ckpt.save(rd / "checkpoint.npz", ckpt.Checkpoint(state, norm, counters, cfg.to_dict()))
            progress(row)
            if _done(cfg, row.get(headline), confirmed):
                break
    except BaseException:
        workers.close(abort=True)
        raise
    workers.close()
    return run


def _headline(task: Any) -> str:
    """The metrics.jsonl figure a target is checked against: det_return, or for a classification task the
    deterministic network's validation accuracy (det_accuracy; host/classify.py)."""
    try:
        kind = getattr(task.load(), "kind", None)
    except UserError:
        kind = None
    return "det_accuracy" if kind == "classify" else "det_return"


def _reached(cfg: TrainConfig, det_return: float | None) -> bool:
    return cfg.target_return is not None and det_return is not None and det_return >= cfg.target_return


def _done(cfg: TrainConfig, det_return: float | None, confirmed: dict[str, Any] | None) -> bool:
    """Stop: the target is reached and, when the run confirms, confirmed on fresh episodes."""
    if not _reached(cfg, det_return):
        return False
    return not cfg.confirm_episodes or bool(confirmed and confirmed["solved"])


def _better(counters: dict[str, Any], det_return: float | None, confirmed: dict[str, Any] | None) -> bool:
    """Whether this generation's deterministic network becomes best.npz: the best confirmed one once any network
    was confirmed solved, the best deterministic return before that."""
    if confirmed is not None and confirmed["solved"]:
        if counters.get("best_confirmed") is None or confirmed["mean"] >= counters["best_confirmed"]:
            counters["best_confirmed"] = confirmed["mean"]
            return True
        return False
    if counters.get("best_confirmed") is not None or det_return is None:
        return False
    if counters["best_det"] is None or det_return >= counters["best_det"]:
        counters["best_det"] = det_return
        return True
    return False


def _confirm(cfg: TrainConfig, workers: Any, pop: Any, task: Any, mean: np.ndarray, std: np.ndarray) -> dict[str, Any]:
    """The deterministic network on `confirm_episodes` fresh episodes (seeds no training slot uses), all at once
    on the training backend; solved when their mean reaches the target."""
    first = cfg.population + cfg.det_episodes
    slots = np.arange(first, first + cfg.confirm_episodes)
    res = workers.evaluate(EvalRequest(pop, cfg.network, task, cfg.backend, cfg.backend_options, cfg.precision,
                                       mean, std, slots))
    f = res.fitness
    m = float(np.nanmean(f)) if np.isfinite(f).any() else float("nan")
    return {"episodes": int(len(f)), "mean": m, "std": float(np.nanstd(f)), "min": float(np.nanmin(f)),
            "target": cfg.target_return, "solved": bool(np.isfinite(f).all() and m >= cfg.target_return),
            "env_steps": int(res.length.sum())}


def _row(gen: int, fit: np.ndarray, det: np.ndarray, res: Any, smetrics: dict[str, float], counters: dict[str, Any],
         gen_time: float, P: int) -> dict[str, Any]:
    """One metrics.jsonl row."""
    finite = fit[np.isfinite(fit)]
    row: dict[str, Any] = {
        "generation": gen, "best": float(finite.max()) if finite.size else None,
        "mean": float(finite.mean()) if finite.size else None,
        "det_return": float(np.nanmean(det)) if np.isfinite(det).any() else None,
        "spike_rate": float(res.spike_rate[:P].mean()), **smetrics, "wall_time": counters["wall_time"],
        "gen_time": gen_time, "env_steps": counters["env_steps"],
        "mean_length": float(res.length[:P].mean()), "bias_saturated": res.bias_saturated,
    }
    row.pop("grad_norm", None)
    for key, vals in res.extra.items():
        row[f"det_{key}"] = float(np.mean(vals[P:]))
        row[f"mean_{key}"] = float(np.mean(vals[:P]))
    return row
