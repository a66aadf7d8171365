"""EC: Natural Evolution Strategies over Bernoulli connection probabilities (model.md §2), ask/tell.

    theta_i ~ Bernoulli(rho)           (regenerated from (seed, generation, i), never stored)
    u_i = centred rank of f_i           rank / (n - 1) - 0.5, NaN/inf ranked last
    g = mean_i u_i (theta_i - rho)      natural gradient: score (theta-rho)/(rho(1-rho)) times Fisher^-1 rho(1-rho)
    rho <- clip(rho + step(g), eps, 1 - eps)      step = Adam (reference, lr 0.15) or SGD
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..connectivity import sample_flat
from ..errors import UserError
from .optim import OptState, ascend


@dataclass(frozen=True)
class ECParams:
    lr: float = 0.15
    eps: float = 1e-3
    optimizer: str = "adam"
    init: float = 0.5

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise UserError(f"strategy.lr must be positive, got {self.lr}")
        if not 0.0 < self.eps < 0.5:
            raise UserError(f"strategy.eps must lie in (0, 0.5), got {self.eps}")
        if self.optimizer not in ("adam", "sgd"):
            raise UserError(f"strategy.optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if not self.eps <= self.init <= 1 - self.eps:
            raise UserError(f"strategy.init must lie in [eps, 1-eps], got {self.init}")


@dataclass(frozen=True)
class ECState:
    """rho (D,) connection probabilities, optimiser state, index of the next generation."""

    rho: np.ndarray
    opt: OptState
    generation: int


def centred_ranks(f: np.ndarray) -> np.ndarray:
    """rank/(n-1) - 0.5 with the worst at -0.5; non-finite fitness counts as worst (ties by index)."""
    f = np.where(np.isfinite(f), f, -np.inf)
    ranks = np.empty(len(f))
    ranks[np.argsort(f, kind="stable")] = np.arange(len(f))
    return ranks / max(len(f) - 1, 1) - 0.5


class EC:
    """Bernoulli NES over n connections."""

    def __init__(self, n: int, params: ECParams = ECParams()) -> None:
        self.n, self.params = n, params

    def init(self) -> ECState:
        return ECState(np.full(self.n, self.params.init), OptState.zeros(self.n), 0)

    def ask(self, state: ECState) -> tuple[np.ndarray, int]:
        """What workers need to regenerate the population: rho and the generation index."""
        return state.rho, state.generation

    def gradient(self, state: ECState, fitness: np.ndarray, seed: int) -> np.ndarray:
        u = centred_ranks(fitness)
        acc = np.zeros(self.n)
        for i, ui in enumerate(u):
            if ui != 0.0:
                acc += ui * sample_flat(state.rho, seed, state.generation, i)
        return acc / len(u) - state.rho * u.mean()

    def tell(self, state: ECState, fitness: np.ndarray, seed: int) -> tuple[ECState, dict[str, float]]:
        g = self.gradient(state, np.asarray(fitness, dtype=np.float64), seed)
        step, opt = ascend(self.params.optimizer, self.params.lr, g, state.opt)
        rho = np.clip(state.rho + step, self.params.eps, 1.0 - self.params.eps)
        metrics = {"grad_norm": float(np.linalg.norm(g)), "mean_rho": float(rho.mean()),
                   "n_nonfinite": int(np.count_nonzero(~np.isfinite(fitness)))}
        return replace(state, rho=rho, opt=opt, generation=state.generation + 1), metrics
