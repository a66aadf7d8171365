"""Replay a deployed network on its task: `ecneuro eval` and the numbers behind it."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import registry
from ..compilers.common import lower
from ..connectivity import Masks, initial_v
from ..deployed import Deployed
from ..errors import UserError
from .rollout import TaskLoop, env_seed


def replay(net: Deployed, episodes: int = 5, backend: str = "numpy", precision: str = "float", seed: int = 12345,
           task: str | None = None, backend_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run `episodes` episodes (in parallel, one per copy) and return returns, lengths and task extras."""
    task_name = task or net.task
    if not task_name:
        raise UserError("this network file names no task; pass --task")
    if episodes < 1:
        raise UserError(f"episodes must be >= 1, got {episodes}")
    env = registry.make_task(task_name, episodes)
    if (env.n_obs, env.n_act) != (net.spec.n_obs, net.spec.n_act):
        raise UserError(f"task {task_name} has {env.n_obs} observations/{env.n_act} actions; "
                        f"the network expects {net.spec.n_obs}/{net.spec.n_act}")
    be = registry.make_backend(backend, **(backend_options or {}))
    try:
        masks = net.masks.select(np.zeros(episodes, int))
        low = lower(net.spec, Masks(*(np.ascontiguousarray(g) for g in masks.groups().values())), precision)
        program = be.compile(low)
        seeds = np.array([env_seed(seed, 0, i) for i in range(episodes)])
        loop = TaskLoop(low, env, net.obs_mean, net.obs_std, seeds)
        be.rollout(program, loop, initial_v(net.spec.n_neurons, seed, 0, np.arange(episodes)))
        out = {"task": task_name, "backend": backend, "precision": precision, "episodes": episodes,
               "returns": env.returns.tolist(), "mean_return": float(env.returns.mean()),
               "lengths": env.lengths.tolist()}
        out.update({k: v.tolist() for k, v in env.metrics().items()})
        return out
    finally:
        be.close()
        env.close()
