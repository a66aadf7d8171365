"""Gradient-ascent optimisers over explicit state: plain SGD (the paper's equation), Adam (EC's reference) and
AdamW as optax applies it (the reference's ES, `es_dense.py`).

optax.adamw = chain(scale_by_adam, add_decayed_weights(wd), scale(-lr)) applied to the descent gradient -g gives,
for the ascent direction g,
    theta <- theta + lr * mhat / (sqrt(vhat) + eps) - lr * wd * theta        (decoupled decay, scaled by lr)
SGD takes the same decoupled decay when weight_decay > 0; Adam has none.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("sgd", "adam", "adamw")


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
           eps: float = 1e-8, *, theta: np.ndarray | None = None, weight_decay: float = 0.0
           ) -> tuple[np.ndarray, OptState]:
    """The step to add to the parameters for ascent direction g, and the new optimiser state.

    theta and weight_decay: the parameters and the decoupled decay of "adamw" (and of "sgd" when > 0)."""
    if kind not in KINDS:
        raise ValueError(f"optimizer must be one of {KINDS}, got {kind!r}")
    decay = 0.0
    if weight_decay and kind != "adam":
        if theta is None:
            raise ValueError(f"{kind} with weight decay needs the parameters (theta)")
        decay = lr * weight_decay * theta
    if kind == "sgd":
        return lr * g - decay, OptState(s.m, s.v, s.t + 1)
    t = s.t + 1
    m = b1 * s.m + (1.0 - b1) * g
    v = b2 * s.v + (1.0 - b2) * g * g
    mhat = m / (1.0 - b1**t)
    vhat = v / (1.0 - b2**t)
    return lr * mhat / (np.sqrt(vhat) + eps) - decay, OptState(m, v, t)
