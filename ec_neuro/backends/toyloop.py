"""A deterministic toy ControlLoop (no gymnasium): for backend cross-checks and throughput benchmarks.

Each member p has a hidden state x (n_obs) and an episode length L_p in [min_steps, steps] (default
min_steps = steps/2; min_steps = steps: every member runs all steps). Per control step:
    a = decode(r);   reward = 1 - mean(a^2);   x <- tanh(0.9 x + a M)   (M: (n_act, n_obs), fixed)
and the member stops after L_p steps.  Everything is float64 and order-fixed, so two backends that return
bit-identical readouts produce bit-identical actions and returns.
"""
from __future__ import annotations

import numpy as np

from ..compilers.common import Lowered


class ToyLoop:
    """ControlLoop over a lowered population; `actions` (T, P, n_act) and `returns` (P,) are recorded."""

    def __init__(self, low: Lowered, steps: int, seed: int = 0, gain: float = 2.0, min_steps: int | None = None) -> None:
        P, spec = low.population, low.spec
        rng = [np.random.default_rng([seed, k]) for k in range(3)]  # member p's draws do not depend on P
        self.low = low
        self.x = rng[0].normal(0.0, gain, (P, spec.n_obs))
        self.M = rng[1].normal(0.0, gain, (spec.n_act, spec.n_obs))
        low_len = max(1, steps // 2) if min_steps is None else min(max(1, min_steps), steps)
        self.lengths = rng[2].integers(low_len, steps + 1, P)
        self.active = np.ones(P, dtype=bool)
        self.returns = np.zeros(P)
        self.actions: list[np.ndarray] = []
        self.t = 0

    def start(self) -> np.ndarray:
        return self.low.encode(self.x)

    def step(self, r: np.ndarray) -> np.ndarray | None:
        a = self.low.decode(r)
        self.actions.append(np.where(self.active[:, None], a, np.nan))
        reward = 1.0 - np.mean(a * a, axis=1)
        self.returns += np.where(self.active, reward, 0.0)
        self.x = np.tanh(0.9 * self.x + a @ self.M)
        self.t += 1
        self.active = self.active & (self.t < self.lengths)
        if not self.active.any():
            return None
        return self.low.encode(self.x)
