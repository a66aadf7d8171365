"""Gradient-ascent optimisers over explicit state: plain SGD (the paper's equation) and Adam (the reference)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OptState:
    """Adam moments m, v (D,) and step count t; unused by SGD."""

    m: np.ndarray
    v: np.ndarray
    t: int

    @classmethod
    def zeros(cls, n: int) -> "OptState":
        return cls(np.zeros(n), np.zeros(n), 0)


def ascend(kind: str, lr: float, g: np.ndarray, s: OptState, b1: float = 0.9, b2: float = 0.999,
           eps: float = 1e-8) -> tuple[np.ndarray, OptState]:
    """The step to add to the parameters for ascent direction g, and the new optimiser state."""
    if kind == "sgd":
        return lr * g, OptState(s.m, s.v, s.t + 1)
    t = s.t + 1
    m = b1 * s.m + (1.0 - b1) * g
    v = b2 * s.v + (1.0 - b2) * g * g
    mhat = m / (1.0 - b1**t)
    vhat = v / (1.0 - b2**t)
    return lr * mhat / (np.sqrt(vhat) + eps), OptState(m, v, t)
