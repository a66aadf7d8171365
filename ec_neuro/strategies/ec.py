"""EC: Natural Evolution Strategies over Bernoulli connection probabilities (docs/model.md §2), ask/tell.

    theta_i ~ Bernoulli(rho)           (regenerated from (seed, generation, i), never stored)
    u_i = centred rank of f_i           rank / (n - 1) - 0.5, NaN/inf ranked last
    g = mean_i u_i (theta_i - rho)      natural gradient: score (theta-rho)/(rho(1-rho)) times Fisher^-1 rho(1-rho)
    rho <- clip(rho + step(g), eps, 1 - eps)      step = Adam (reference, lr 0.15) or SGD

    ec = EC(spec.n_connections, population=64)
    state = ec.init(seed=0)
    pop = ec.ask(state)                     # ECPopulation: pop.masks(spec) -> every member's 1-bit masks
    state, metrics = ec.tell(state, pop, fitness)
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from ..errors import UserError
from ..sample.masks import Masks, accumulate, deterministic_flat, sample, sample_flat
from ..spec import NetworkSpec
from .base import Population, centred_ranks, check_told
from .optim import OptState, ascend


def _positive(name: str, val: object) -> None:
    if not (isinstance(val, (int, float)) and not isinstance(val, bool) and np.isfinite(val) and val > 0):
        raise UserError(f"strategy.{name} must be a positive number, got {val!r}")


@dataclass(frozen=True)
class ECParams:
    lr: float = 0.15
    eps: float = 1e-3
    optimizer: str = "adam"
    init: float = 0.5

    def __post_init__(self) -> None:
        _positive("lr", self.lr)
        if not (isinstance(self.eps, (int, float)) and 0.0 < self.eps < 0.5):
            raise UserError(f"strategy.eps must lie in (0, 0.5), got {self.eps!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise UserError(f"strategy.optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if not (isinstance(self.init, (int, float)) and self.eps <= self.init <= 1 - self.eps):
            raise UserError(f"strategy.init must lie in [eps, 1-eps], got {self.init!r}")


@dataclass(frozen=True)
class ECState:
    """rho (D,) connection probabilities, optimiser state, index of the next generation, the run seed."""

    rho: np.ndarray
    opt: OptState
    generation: int
    seed: int


@dataclass(frozen=True, eq=False)
class ECPopulation(Population):
    """Members are 1-bit masks theta_i ~ Bernoulli(rho); the deterministic member is rho > 0.5."""

    method: ClassVar[str] = "ec"

    def member(self, index: int) -> np.ndarray:
        """theta_index as a bool vector (D,); index >= size gives the deterministic network."""
        if index >= self.size:
            return self.deterministic()
        return sample_flat(self.center, self.seed, self.generation, int(index))

    def deterministic(self) -> np.ndarray:
        return deterministic_flat(self.center)

    def masks(self, spec: NetworkSpec, indices: np.ndarray | list[int] | None = None) -> Masks:
        """The masks of members `indices` (default: all), shaped for `spec`: each sampled member once (members
        in parallel), the deterministic network for indices >= size, rows repeated as `indices` repeats them."""
        idx = np.arange(self.size) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        sampled = np.unique(idx[idx < self.size])
        masks = sample(spec, self.center, self.seed, self.generation, sampled)
        if np.array_equal(sampled, idx):
            return masks
        rows = np.searchsorted(sampled, idx)
        if (idx >= self.size).any():  # deterministic slots: one more row
            masks = Masks(*(np.concatenate([a, b]) for a, b in zip(masks.groups().values(),
                            Masks.stack(spec, [self.deterministic()]).groups().values())))
            rows[idx >= self.size] = len(sampled)
        return masks.take(rows)


class EC:
    """Bernoulli NES over n connections, `population` members per generation."""

    name: ClassVar[str] = "ec"
    Params: ClassVar[type] = ECParams

    def __init__(self, n: int, population: int = 64, params: ECParams = ECParams()) -> None:
        if not isinstance(n, int) or n < 1:
            raise UserError(f"EC needs a positive number of connections, got {n!r}")
        if not isinstance(population, int) or isinstance(population, bool) or population < 2:
            raise UserError(f"population must be an integer >= 2, got {population!r}")
        self.n, self.population, self.params = n, population, params

    @classmethod
    def for_network(cls, spec: NetworkSpec, population: int, params: ECParams) -> "EC":
        """EC over every connection of `spec`."""
        return cls(spec.n_connections, population, params)

    def init(self, seed: int = 0) -> ECState:
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise UserError(f"seed must be a non-negative integer, got {seed!r}")
        return ECState(np.full(self.n, self.params.init), OptState.zeros(self.n), 0, int(seed))

    def ask(self, state: ECState) -> ECPopulation:
        """The generation's population handle: everything its members are a function of."""
        return ECPopulation(state.seed, state.generation, self.population, state.rho)

    def tell(self, state: ECState, population: ECPopulation, fitness: np.ndarray) -> tuple[ECState, dict[str, float]]:
        """Move rho by the natural gradient of the centred ranks of `fitness` over `population`'s members."""
        f = check_told(state, population, fitness, state.rho)
        u = centred_ranks(f)
        told = np.flatnonzero(u != 0.0)  # a zero weight adds nothing
        acc = accumulate(population.center, population.seed, population.generation, told, u[told])
        g = acc / len(u) - state.rho * u.mean()
        step, opt = ascend(self.params.optimizer, self.params.lr, g, state.opt)
        rho = np.clip(state.rho + step, self.params.eps, 1.0 - self.params.eps)
        metrics = {"grad_norm": float(np.linalg.norm(g)), "mean_rho": float(rho.mean()),
                   "n_nonfinite": int(np.count_nonzero(~np.isfinite(f)))}
        return replace(state, rho=rho, opt=opt, generation=state.generation + 1), metrics
