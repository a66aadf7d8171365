"""The stimulus a network is compared or drawn on: one recorded episode of its task, or random inputs."""
from __future__ import annotations

import numpy as np

from .. import registry
from ..compilers.common import Lowered, lower
from ..deploy import deployed
from ..errors import UserError
from ..sample.masks import initial_v

V0_SEED = 0  # seed of the initial membrane potentials of every compared or drawn run


class _Recorder:
    """Stands in for a Lowered inside a TaskLoop and keeps every normalised observation it encodes."""

    def __init__(self, low: Lowered) -> None:
        self.low, self.xs = low, []

    def encode(self, x: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        self.xs.append(np.array(x[0]))
        return self.low.encode(x, active)

    def decode(self, r: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        return self.low.decode(r, active)


def task_stimulus(net: deployed.Deployed, steps: int, seed: int, precision: str = "float") -> np.ndarray:
    """Normalised observations (T, n_obs) of one episode of `net` on its task (numpy, `precision`), T <= steps."""
    from ..host.rollout import TaskLoop, env_seed
    from ..tasks.resolve import resolve as resolve_task
    if not net.task:
        raise UserError("this network names no task; use stimulus='random' (--stimulus random)", "stimulus")
    env = resolve_task(net.task, net.meta.get("task_entry")).make(1, max_steps=steps)
    be = registry.make_backend("numpy")
    try:
        low = lower(net.spec, net.masks, precision)
        rec = _Recorder(low)
        loop = TaskLoop(rec, env, net.obs_mean, net.obs_std, np.array([env_seed(seed, 0, 0)]))  # type: ignore[arg-type]
        be.rollout(be.compile(low), loop, initial_v(net.spec.n_neurons, V0_SEED, 0, np.arange(1)))
    finally:
        env.close()
    return np.stack(rec.xs[:steps])


def random_stimulus(n_obs: int, steps: int, seed: int, scale: float = 2.0) -> np.ndarray:
    """x ~ N(0, scale^2), (steps, n_obs)."""
    return np.random.default_rng(seed).normal(size=(steps, n_obs)) * scale
