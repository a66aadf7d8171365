"""Running observation normalisation over every observation seen (frozen within a generation)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import prange

from ..compilers.codec import dispatch

CLIP = 5.0
EPS = 1e-8


def normalise(obs: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """x = clip((obs - mean) / std, -5, 5)."""
    return np.clip((obs - mean) / std, -CLIP, CLIP)


@dispatch
def observe(obs, who, mean, std, count, total, total_sq, x):
    """One pass over a control step's observations obs (P, n_obs) float32/64: the sums of the rows `who` (P,) bool,
    count += 1, total += obs, total_sq += obs * obs (in obs's dtype, as numpy's obs * obs), and x (P, n_obs) =
    normalise(obs, mean, std) for every row, bit for bit (a NaN stays NaN, as np.clip leaves it)."""
    P, n = obs.shape
    for p in prange(P):
        if who[p]:
            count[p] += 1
            for k in range(n):
                o = obs[p, k]
                total[p, k] += o
                total_sq[p, k] += o * o
        for k in range(n):
            y = (obs[p, k] - mean[k]) / std[k]
            if y < -CLIP:
                y = -CLIP
            elif y > CLIP:
                y = CLIP
            x[p, k] = y


@dataclass
class RunningNorm:
    """Sums of all observations: count, sum (n_obs,), sum of squares (n_obs,); mean/std derived."""

    count: float
    total: np.ndarray
    total_sq: np.ndarray

    @classmethod
    def empty(cls, n_obs: int) -> "RunningNorm":
        return cls(0.0, np.zeros(n_obs), np.zeros(n_obs))

    @property
    def mean(self) -> np.ndarray:
        return self.total / self.count if self.count else np.zeros_like(self.total)

    @property
    def std(self) -> np.ndarray:
        if self.count < 2:
            return np.ones_like(self.total)
        var = np.maximum(self.total_sq / self.count - self.mean**2, 0.0)
        return np.sqrt(var) + EPS

    def update(self, count: np.ndarray, total: np.ndarray, total_sq: np.ndarray) -> None:
        """Merge per-member sums (members in index order, so the result is independent of worker count); a
        member with non-finite sums is left out."""
        for c, s, q in zip(count, total, total_sq):
            if not (np.all(np.isfinite(s)) and np.all(np.isfinite(q))):
                continue  # a member whose task gave NaN/inf observations: never let it poison the normaliser
            self.count += float(c)
            self.total += s
            self.total_sq += q

    def state(self) -> dict[str, np.ndarray]:
        return {"norm_count": np.array(self.count), "norm_total": self.total, "norm_total_sq": self.total_sq}

    @classmethod
    def from_state(cls, d: dict[str, np.ndarray]) -> "RunningNorm":
        return cls(float(d["norm_count"]), np.array(d["norm_total"], float), np.array(d["norm_total_sq"], float))
