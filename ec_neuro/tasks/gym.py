"""Any gymnasium environment as a task (the interface of `ec_neuro.tasks.base`), one copy per population member.

Actions arrive as the network's clipped readout a in [-1, 1]^n_act and are decoded per action space:
Discrete(n) -> argmax over n outputs; Box(low, high) -> low + (a + 1) / 2 * (high - low).
For MuJoCo locomotion tasks the forward distance (x of the root body, end minus start) is logged beside
the return, because a standing robot collects a large alive bonus.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from ..errors import MissingExtra, UserError


def decode(space: gym.Space, a: np.ndarray) -> Any:
    """A readout a in [-1, 1]^n as an action of `space`: Discrete -> argmax, Box -> low + (a + 1)/2 (high - low)."""
    if isinstance(space, gym.spaces.Discrete):
        return int(np.argmax(a)) + int(space.start)
    return space.low.astype(np.float64) + (a + 1.0) * 0.5 * (space.high.astype(np.float64) - space.low)


class GymTask:
    """P gymnasium environments stepped together; inactive (finished) members are not stepped.

    solved_threshold / solved_episodes: gymnasium's `reward_threshold`, met by the mean return over 100 episodes.
    """

    defaults: dict[str, Any] = {}
    solved_episodes = 100

    def __init__(self, population: int, env_id: str, locomotion: bool = False, max_steps: int | None = None) -> None:
        if max_steps is not None and (not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1):
            raise UserError(f"task option max_steps must be a positive integer, got {max_steps!r}")
        self.env_id = env_id
        self.locomotion = locomotion
        self._envs: list[gym.Env] = []
        probe = self._make()
        self._envs.append(probe)
        space = probe.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise UserError(f"task {env_id}: needs a flat Box observation space, got {space}")
        self.n_obs = int(space.shape[0])
        act = probe.action_space
        if isinstance(act, gym.spaces.Discrete):
            self.n_act, self._discrete, self._start = int(act.n), True, int(act.start)
        elif isinstance(act, gym.spaces.Box) and len(act.shape) == 1:
            self.n_act, self._discrete = int(act.shape[0]), False
            self._low, self._high = act.low.astype(np.float64), act.high.astype(np.float64)
        else:
            raise UserError(f"task {env_id}: unsupported action space {act}")
        limit = probe.spec.max_episode_steps if probe.spec else None
        self.max_steps = int(max_steps or limit or 1000)
        self.solved_threshold = probe.spec.reward_threshold if probe.spec else None
        clock = getattr(probe.unwrapped, "dt", None) or getattr(probe.unwrapped, "tau", None)
        self.control_period = float(clock) if isinstance(clock, (int, float)) else None
        self.resize(population)

    def _make(self) -> gym.Env:
        try:
            return gym.make(self.env_id, disable_env_checker=True)
        except gym.error.DependencyNotInstalled as e:
            if "mujoco" in str(e).lower():
                raise MissingExtra(f"task {self.env_id!r}", "mujoco", "mujoco") from None
            raise UserError(f"task {self.env_id!r} needs a package that is not installed: {e}") from None
        except gym.error.Error as e:
            raise UserError(f"task {self.env_id!r}: gymnasium cannot make it ({e})") from None

    def resize(self, population: int) -> None:
        """Make sure at least `population` environments exist (they persist across generations)."""
        while len(self._envs) < population:
            self._envs.append(self._make())
        self.population = population

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        """Reset every member with its seed; returns obs (P, n_obs) float64."""
        self.resize(len(seeds))
        obs = np.empty((len(seeds), self.n_obs))
        self._x0 = np.zeros(len(seeds))
        for i, s in enumerate(seeds):
            o, _ = self._envs[i].reset(seed=int(s))
            obs[i] = o
            if self.locomotion:
                self._x0[i] = self._x(i)
        self._obs = obs
        self.returns = np.zeros(len(seeds))
        self.lengths = np.zeros(len(seeds), np.int64)
        self.forward = np.zeros(len(seeds))
        return obs.copy()

    def _x(self, i: int) -> float:
        return float(self._envs[i].unwrapped.data.qpos[0])

    def decode(self, a: np.ndarray) -> Any:
        if self._discrete:
            return int(np.argmax(a)) + self._start
        return self._low + (a + 1.0) * 0.5 * (self._high - self._low)

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step the active members with actions (P, n_act) in [-1, 1]; returns (obs, done) and accumulates returns."""
        done = ~active
        for i in np.flatnonzero(active):
            o, rew, term, trunc, _ = self._envs[i].step(self.decode(actions[i]))
            self._obs[i] = o
            self.returns[i] += float(rew)
            self.lengths[i] += 1
            if term or trunc or self.lengths[i] >= self.max_steps:
                done[i] = True
                if self.locomotion:
                    self.forward[i] = self._x(i) - self._x0[i]
        return self._obs.copy(), done

    def metrics(self) -> dict[str, np.ndarray]:
        """Per-member episode figures beside the return."""
        return {"forward_distance": self.forward.copy()} if self.locomotion else {}

    def close(self) -> None:
        for env in self._envs:
            env.close()
        self._envs.clear()
