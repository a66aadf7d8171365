"""A task of your own: a point mass that must stay on a moving target (pure numpy, no gymnasium).

Any class with this interface is a task (docs: ec_neuro/tasks/base.py); `ecneuro tasks --check
point_target:PointTarget` checks it.  Workers import it by this module's name, so it lives in a module, not in
the script that trains it.
"""
from __future__ import annotations

import numpy as np


class PointTarget:
    """obs = [target - position, velocity]; action = force in [-1, 1]; reward = -|target - position| per step."""

    defaults = {"population": 32, "generations": 30, "target_return": -15.0}
    solved_threshold = None
    control_period = 0.05

    def __init__(self, population: int, max_steps: int = 100) -> None:
        self.n_obs, self.n_act, self.max_steps = 2, 1, int(max_steps)
        self.population = population

    def _obs(self) -> np.ndarray:
        target = np.sin(self.phase + 0.1 * self.lengths)
        return np.stack([target - self.x, self.v], axis=1)

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        rng = [np.random.default_rng(int(s)) for s in seeds]
        self.phase = np.array([r.uniform(0, 2 * np.pi) for r in rng])
        self.x = np.array([r.uniform(-1, 1) for r in rng])
        self.v = np.zeros(len(seeds))
        self.returns = np.zeros(len(seeds))
        self.lengths = np.zeros(len(seeds), np.int64)
        return self._obs()

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = np.where(active, actions[:, 0], 0.0)
        self.v = np.where(active, 0.9 * self.v + 0.05 * a, self.v)
        self.x = np.where(active, self.x + 0.1 * self.v, self.x)
        self.lengths += active
        obs = self._obs()
        self.returns -= np.where(active, np.abs(obs[:, 0]), 0.0)
        return obs, ~active | (self.lengths >= self.max_steps)

    def metrics(self) -> dict[str, np.ndarray]:
        return {}

    def close(self) -> None:
        pass
