"""A population of sampled networks as a policy you step yourself, for your own environment loop.

    policy = Policy(spec, pop.masks(spec), action_space=env.action_space)   # every member at once
    policy.reset()
    actions = policy.act(obs)          # obs (P, n_obs) -> actions (P, ...) decoded for the action space

It runs on the numpy backend in the precision asked for, with exactly the arithmetic of training.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..backends.numpy import NumpyBackend
from ..compilers.common import lower
from ..errors import UserError
from ..sample.masks import Masks, initial_v
from ..spec import NetworkSpec
from .normalizer import normalise


class Policy:
    """P networks (masks of a population, or one deployed network) stepped one control step per `act`."""

    def __init__(self, spec: NetworkSpec, masks: Masks, precision: str = "float", action_space: Any = None,
                 obs_mean: np.ndarray | None = None, obs_std: np.ndarray | None = None) -> None:
        self.spec, self.low = spec, lower(spec, masks, precision)
        self.P = masks.population
        self.space = action_space
        self.mean = np.zeros(spec.n_obs) if obs_mean is None else np.asarray(obs_mean, np.float64)
        self.std = np.ones(spec.n_obs) if obs_std is None else np.asarray(obs_std, np.float64)
        self._backend = NumpyBackend()
        self._program = self._backend.compile(self.low)
        self._active = np.ones(self.P, bool)
        self.reset()

    def reset(self, seed: int = 0) -> None:
        """Start every network afresh: v ~ U[0, 1) from (seed, member), the rest 0."""
        self._backend.reset(self._program, initial_v(self.spec.n_neurons, seed, 0, np.arange(self.P)))

    def readout(self, obs: np.ndarray) -> np.ndarray:
        """One control step: observations (P, n_obs) -> the clipped readout a in [-1, 1], (P, n_act)."""
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape != (self.P, self.spec.n_obs):
            raise UserError(f"act needs observations of shape ({self.P}, {self.spec.n_obs}), got {obs.shape}")
        bias = self.low.encode(normalise(obs, self.mean, self.std))
        return self.low.decode(self._backend.advance(self._program, bias, self._active))

    def act(self, obs: np.ndarray) -> Any:
        """One control step, decoded for `action_space` (Discrete: argmax; Box: scaled), else the readout."""
        a = self.readout(obs)
        if self.space is None:
            return a
        from ..tasks.gym import decode
        return [decode(self.space, row) for row in a]
