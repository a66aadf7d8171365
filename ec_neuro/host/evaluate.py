"""Evaluate a deployed network on its task: fresh episodes, all run at once as copies of the network.

    report = evaluate(net_or_run, episodes=20, backend="lava-sim")   # precision: the run's, unless given
    report["mean"], report["std"], report["min"], report["max"], report["solved"], report["returns"], ...

Episode i is seeded from (seed, i), so two backends given the same network and seed play the same episodes.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .. import memory, registry, validate
from ..compilers.common import lower
from ..errors import UserError
from ..deploy.deployed import Deployed, as_network
from ..sample.masks import Masks, initial_v
from ..tasks.resolve import resolve as resolve_task
from .rollout import TaskLoop, env_seed

MAX_EPISODES = 100_000


def evaluate(source: Any, episodes: int = 20, backend: str = "numpy", precision: str | None = None,
             seed: int = 12345, task: str | None = None, backend_options: Mapping[str, Any] | None = None,
             max_steps: int | None = None, data: str | None = None) -> dict[str, Any]:
    """Run `episodes` fresh episodes of the network (a Deployed, Run, run directory or .npz) and summarise them.

    precision defaults to the one the network was trained in; returns {task, backend, precision, episodes,
    mean, std, min, max, mean_length, solved (None when the task has no threshold or the episodes are fewer than
    its definition needs), threshold, returns,
    lengths, and the task's own per-episode figures}.  On a classification task: the accuracy on its validation
    and test splits instead (host/classify_eval.py; `data` replaces its data folder, `episodes` is unused)."""
    validate.integer("episodes", episodes, 1, MAX_EPISODES)
    validate.seed("seed", seed)
    if max_steps is not None:
        validate.integer("max_steps", max_steps, 1, 10**9)
    registry.backend(backend)
    if task is not None:
        validate.text("task", task, "a task name, a gymnasium id or pkg.module:Class")
    net = as_network(source)
    if task or net.task:
        from .classify_eval import evaluate_classify, is_classify_ref
        ref = resolve_task(task or net.task, None if task else net.meta.get("task_entry"))
        if is_classify_ref(ref):
            return evaluate_classify(net, ref, backend, precision, seed, backend_options, data)
    if not isinstance(net, Deployed):  # a network of real weights (ES, EGGROLL): host/weights.py
        from .weights import evaluate_weights
        return evaluate_weights(net, episodes, backend, precision, seed, task, backend_options, max_steps)
    memory.check_copies(net.spec, episodes, f"{episodes} episodes of a {net.spec.n_neurons}-neuron network on "
                        f"{backend}", "Use fewer --episodes", backend)
    precision = precision or net.meta.get("precision") or registry.backend(backend).default_precision
    if precision not in registry.backend(backend).precisions:
        raise UserError(f"precision {precision!r} is not offered by backend {backend!r}", "precision")
    name = task or net.task
    if not name:
        raise UserError("this network file names no task; pass task=... (--task)", "task")
    ref = resolve_task(name, None if task else net.meta.get("task_entry"))
    env = ref.make(episodes, **({"max_steps": max_steps} if max_steps is not None else {}))
    try:
        if (env.n_obs, env.n_act) != (net.spec.n_obs, net.spec.n_act):
            raise UserError(f"task {name} has {env.n_obs} observations/{env.n_act} actions; "
                            f"the network expects {net.spec.n_obs}/{net.spec.n_act}", "task")
        be = registry.make_backend(backend, **(backend_options or {}))
        try:
            copies = Masks(*(np.ascontiguousarray(np.repeat(g, episodes, axis=0)) for g in net.masks.groups().values()))
            low = lower(net.spec, copies, precision)
            seeds = np.array([env_seed(seed, 0, i) for i in range(episodes)])
            loop = TaskLoop(low, env, net.obs_mean, net.obs_std, seeds)
            be.rollout(be.compile(low), loop, initial_v(net.spec.n_neurons, seed, 0, np.arange(episodes)))
        finally:
            be.close()
        returns, lengths = env.returns.astype(np.float64), env.lengths.copy()
        threshold = getattr(env, "solved_threshold", None)
        need = getattr(env, "solved_episodes", 100)
        out: dict[str, Any] = {
            "task": name, "backend": backend, "precision": precision, "episodes": episodes, "seed": seed,
            "mean": float(returns.mean()), "std": float(returns.std()), "min": float(returns.min()),
            "max": float(returns.max()), "mean_length": float(lengths.mean()), "max_steps": int(env.max_steps),
            "threshold": threshold, "solved_episodes": need,
            "solved": None if threshold is None or episodes < need else bool(returns.mean() >= threshold),
            "returns": returns.tolist(), "lengths": lengths.tolist(), "bias_saturated": low.bias_saturated,
        }
        out.update({k: v.tolist() for k, v in env.metrics().items()})
        return out
    finally:
        env.close()


def summary(report: Mapping[str, Any]) -> str:
    """A few lines a person reads: mean ± std, range, lengths, solved or not."""
    r = report
    head = (f"{r['task']} on {r['backend']}/{r['precision']}, {r['episodes']} episodes: "
            f"return {r['mean']:.2f} ± {r['std']:.2f} (min {r['min']:.2f}, max {r['max']:.2f}); "
            f"length {r['mean_length']:.1f} of {r['max_steps']}")
    lines = [head]
    if "forward_distance" in r:
        fwd = np.asarray(r["forward_distance"])
        lines.append(f"  forward distance {fwd.mean():.2f} ± {fwd.std():.2f} m")
    if r["threshold"] is None:
        lines.append("  the task defines no solved threshold")
    elif r["episodes"] < r["solved_episodes"]:
        lines.append(f"  solved needs a mean >= {r['threshold']:g} over {r['solved_episodes']} episodes "
                     f"(run --episodes {r['solved_episodes']} to decide)")
    else:
        lines.append(f"  {'SOLVED' if r['solved'] else 'not solved'}: mean {r['mean']:.2f} "
                     f"{'>=' if r['solved'] else '<'} {r['threshold']:g} over {r['episodes']} episodes")
    return "\n".join(lines)
