"""Networks of real weights (ES, EGGROLL) on a task: a generation's slots, and a deployed network's fresh episodes.

The same slots, episode seeds, observation normaliser and statistics as the E/I path (host/rollout.py), but no
lowering and no backend: the network's population forward (spec.forward, ec_neuro/networks/) takes normalised
observations and returns actions in [-1, 1] for the whole population, one control step per call, on the host CPU.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .. import registry
from ..errors import UserError
from ..sample.masks import initial_v
from ..strategies.es import ESPopulation
from ..tasks.resolve import resolve as resolve_task
from .rollout import EvalRequest, EvalResult, TaskLoop, env_seed


class _Direct:
    """TaskLoop's codec for networks that read observations and write actions themselves."""

    bias_saturated = 0

    @staticmethod
    def encode(x: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        return x

    @staticmethod
    def decode(a: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        return a


def forward(spec: Any, pop: Any, indices: np.ndarray) -> Any:
    """The population forward of spec's kind over the members `indices` of `pop`."""
    return registry.load(spec.forward, f"network {spec.kind!r}")(spec, pop, indices)


def play(net: Any, loop: TaskLoop, v0: np.ndarray | None) -> None:
    """Closed loop until every copy's episode is done."""
    net.reset(v0)
    x = loop.start()
    while x is not None:
        x = loop.step(net.act(x, loop.active))


def _v0(spec: Any, seed: int, generation: int, copies: np.ndarray) -> np.ndarray | None:
    return initial_v(spec.n_neurons, seed, generation, copies) if spec.spiking else None


def _rate(spec: Any, net: Any, lengths: np.ndarray) -> np.ndarray:
    if not spec.spiking:
        return np.zeros(len(lengths))
    return net.spike_counts() / (np.maximum(lengths, 1) * spec.neuron.substeps * spec.n_neurons)


def run_weights(req: EvalRequest, spec: Any, task: Any) -> EvalResult:
    """Evaluate the request's slots (host/rollout.py's contract) for a network of real weights."""
    pop, E = req.population, req.episodes
    copies = np.repeat(np.asarray(req.slots), E)
    net = forward(spec, pop, copies)
    seeds = np.array([env_seed(pop.seed, pop.generation, -1 if k < pop.size else int(k - pop.size), e)
                      for k in req.slots for e in range(E)])
    loop = TaskLoop(_Direct, task, req.obs_mean, req.obs_std, seeds)  # type: ignore[arg-type]
    play(net, loop, _v0(spec, pop.seed, pop.generation, copies))
    fitness = task.returns.astype(np.float64)
    fitness[~np.isfinite(fitness)] = np.nan
    rate = _rate(spec, net, task.lengths)
    per = lambda a: a.reshape(len(req.slots), E, *a.shape[1:])  # noqa: E731  (slot, episode, ...)
    return EvalResult(per(fitness).mean(axis=1), per(task.lengths).sum(axis=1), per(rate).mean(axis=1),
                      per(loop.obs_count).sum(axis=1), per(loop.obs_sum).sum(axis=1), per(loop.obs_sumsq).sum(axis=1),
                      {k: per(v).mean(axis=1) for k, v in task.metrics().items()}, 0)


def evaluate_weights(net: Any, episodes: int, backend: str, precision: str | None, seed: int, task: str | None,
                     backend_options: Mapping[str, Any] | None, max_steps: int | None) -> dict[str, Any]:
    """host/evaluate.py's `evaluate` for a deployed network of real weights (deploy/weights.py)."""
    entry = registry.lookup(registry.NETWORKS, "network", net.spec.kind)
    if backend not in entry.backends:
        raise UserError(f"network {net.spec.kind!r} runs on {', '.join(entry.backends)}, not on backend "
                        f"{backend!r}", "backend")
    precision = precision or "float"
    if entry.precisions and precision not in entry.precisions:
        raise UserError(f"network {net.spec.kind!r} runs in {', '.join(entry.precisions)} precision only, not "
                        f"{precision!r}", "precision")
    if backend_options:
        registry.backend_options(backend, backend_options)
    name = task or net.task
    if not name:
        raise UserError("this network file names no task; pass task=... (--task)", "task")
    ref = resolve_task(name, None if task else net.meta.get("task_entry"))
    env = ref.make(episodes, **({"max_steps": max_steps} if max_steps else {}))
    try:
        if (env.n_obs, env.n_act) != (net.spec.n_obs, net.spec.n_act):
            raise UserError(f"task {name} has {env.n_obs} observations/{env.n_act} actions; "
                            f"the network expects {net.spec.n_obs}/{net.spec.n_act}", "task")
        pop = ESPopulation(seed, 0, 0, net.params, sigma=0.0)  # size 0: every copy is the deployed center
        copies = np.arange(episodes)
        model = forward(net.spec, pop, copies)
        seeds = np.array([env_seed(seed, 0, i) for i in range(episodes)])
        loop = TaskLoop(_Direct, env, net.obs_mean, net.obs_std, seeds)  # type: ignore[arg-type]
        play(model, loop, _v0(net.spec, seed, 0, copies))
        returns, lengths = env.returns.astype(np.float64), env.lengths.copy()
        threshold = getattr(env, "solved_threshold", None)
        need = getattr(env, "solved_episodes", 100)
        out: dict[str, Any] = {
            "task": name, "backend": backend, "precision": precision, "episodes": episodes, "seed": seed,
            "network": net.spec.kind, "method": net.meta.get("method"),
            "mean": float(returns.mean()), "std": float(returns.std()), "min": float(returns.min()),
            "max": float(returns.max()), "mean_length": float(lengths.mean()), "max_steps": int(env.max_steps),
            "threshold": threshold, "solved_episodes": need,
            "solved": None if threshold is None or episodes < need else bool(returns.mean() >= threshold),
            "returns": returns.tolist(), "lengths": lengths.tolist(), "bias_saturated": 0,
            "spike_rate": float(_rate(net.spec, model, lengths).mean()),
        }
        out.update({k: v.tolist() for k, v in env.metrics().items()})
        return out
    finally:
        env.close()
