"""What every strategy shares: the Population handle that `ask` returns and `tell` takes back, and fitness shaping.

    pop = strategy.ask(state)                         # frozen: seed, generation, size, center
    fitness = [evaluate(pop.member(i)) for i in range(pop.size)]
    state, metrics = strategy.tell(state, pop, fitness)

A member is a pure function of (seed, generation, index, center): it is regenerated wherever it is needed
(`member`, `masks`), so only the handle crosses a process or machine boundary, and `tell` recomputes the
members it weighs from the handle it is given.  `tell` refuses a handle that `ask` did not give for this
state, so fitness of one population can never be applied to another's members.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Protocol

import numpy as np

from ..errors import UserError


@dataclass(frozen=True, eq=False)
class Population:
    """A generation's members as what they are a function of.

    seed, generation: the key of member i's random stream is (seed, generation, i); size: members sampled;
    center: (D,) the search distribution's center, read-only (rho for EC, the mean parameters for ES).
    """

    method: ClassVar[str] = ""
    seed: int
    generation: int
    size: int
    center: np.ndarray
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        center = np.array(self.center, dtype=np.float64)
        center.setflags(write=False)
        object.__setattr__(self, "center", center)

    def member(self, index: int) -> np.ndarray:
        """Member `index`'s parameters, (D,); index >= size is the deterministic (deployed) member."""
        raise NotImplementedError

    def deterministic(self) -> np.ndarray:
        """The member deployed from this distribution, (D,)."""
        raise NotImplementedError


class Strategy(Protocol):
    """init(seed) -> state; ask(state) -> Population; tell(state, population, fitness) -> (state, metrics)."""

    name: ClassVar[str]

    def init(self, seed: int) -> Any: ...

    def ask(self, state: Any) -> Population: ...

    def tell(self, state: Any, population: Population, fitness: Any) -> tuple[Any, dict[str, float]]: ...


def check_told(state: Any, pop: Population, fitness: Any, center: np.ndarray) -> np.ndarray:
    """The fitness as float64 (size,), after checking that `pop` is the population `ask(state)` gave."""
    if not isinstance(pop, Population):
        raise UserError(f"tell needs the Population that ask returned, got {type(pop).__name__}")
    if (pop.seed, pop.generation) != (state.seed, state.generation) or not np.array_equal(pop.center, center):
        raise UserError(f"tell got the population of seed {pop.seed}, generation {pop.generation}, but the state is "
                        f"at seed {state.seed}, generation {state.generation}: pass the population ask(state) returned")
    f = np.asarray(fitness, dtype=np.float64).reshape(-1)
    if f.shape[0] != pop.size:
        raise UserError(f"tell got {f.shape[0]} fitness values for a population of {pop.size}")
    return f


def centred_ranks(f: np.ndarray) -> np.ndarray:
    """rank/(n-1) - 0.5 with the worst at -0.5; non-finite fitness counts as worst (ties by index)."""
    f = np.where(np.isfinite(f), f, -np.inf)
    ranks = np.empty(len(f))
    ranks[np.argsort(f, kind="stable")] = np.arange(len(f))
    return ranks / max(len(f) - 1, 1) - 0.5
