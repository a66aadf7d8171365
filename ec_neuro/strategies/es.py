"""ES: OpenAI-ES on real weights, as the reference `es_dense.py` does it (docs/model.md §3), ask/tell.

    member 2k = center + sigma eps_k,  member 2k+1 = center - sigma eps_k       antithetic pairs
    eps_k ~ N(0, I) float32, regenerated from (seed, generation, k), never stored
    u = shaping(f) over all members (centred ranks: NaN/inf last);  w_k = u_2k - u_2k+1   (pos - neg)
    g = (1/K) sum_k w_k sigma eps_k        the reference's scaling (it drops 1/(2 sigma): AdamW makes it moot)
    center <- center + AdamW step (lr, weight decay 0.1, decoupled and scaled by lr, as optax.adamw)

The reference orders its members [all +, all -]; here a pair is adjacent (a worker's block holds both members
of most pairs); the arithmetic is the same (tests/test_methods.py checks it against es_dense.py's, written out).
Any network that declares a parameter layout trains by ES (`for_network`: spec.n_params, spec.init_params).

    es = ES(n_params, population=256, params=ESParams(sigma=0.02, lr=0.01))
    state = es.init(seed=0, center=theta0)
    pop = es.ask(state)                     # ESPopulation: pop.member(i), pop.noise(k), pop.noise_block(pairs)
    state, metrics = es.tell(state, pop, fitness)
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar, Iterable

import numpy as np

from ..errors import UserError
from .base import Population, check_told
from .optim import KINDS, OptState, ascend
from .shaping import ES_STREAM, check_shaping, pair_rng, pair_sign, pair_weights

_pool: ThreadPoolExecutor | None = None


def halves(n: int, fn: Callable[[int, int], Any]) -> list[Any]:
    """fn(0, n//2 rounded up) and fn(that, n) on two threads: a split that does not depend on the machine, so
    anything summed from the two results is the same everywhere (numpy's generators release the GIL)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(2, thread_name_prefix="ec-neuro-noise")
    h = (n + 1) // 2
    return list(_pool.map(lambda ab: fn(*ab), [(0, h), (h, n)]))


def check_weight_params(p: Any) -> None:
    """The settings ES and EGGROLL share: sigma, lr > 0, weight_decay >= 0, optimizer and shaping by name."""
    for name in ("sigma", "lr"):
        val = getattr(p, name)
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val) or val <= 0:
            raise UserError(f"strategy.{name} must be a positive number, got {val!r}", f"strategy.{name}")
    wd = p.weight_decay
    if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not math.isfinite(wd) or wd < 0:
        raise UserError(f"strategy.weight_decay must be a number >= 0, got {wd!r}", "strategy.weight_decay")
    decay = p.lr_decay
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not math.isfinite(decay) or not 0 < decay <= 1:
        raise UserError(f"strategy.lr_decay must be a number in (0, 1] (the learning rate's factor per generation), "
                        f"got {decay!r}", "strategy.lr_decay")
    if p.optimizer not in KINDS:
        raise UserError(f"strategy.optimizer must be one of {', '.join(KINDS)}, got {p.optimizer!r}",
                        "strategy.optimizer")
    check_shaping(p.shaping)


def check_population(population: object) -> int:
    if not isinstance(population, int) or isinstance(population, bool) or population < 2 or population % 2:
        raise UserError(f"population must be an even integer >= 2 (antithetic pairs), got {population!r}",
                        "population")
    return population


@dataclass(frozen=True)
class ESParams:
    """sigma: noise scale; lr, optimizer ("adamw", "adam", "sgd"), weight_decay (decoupled, adamw and sgd);
    shaping: "centred_ranks" (the reference) or "zscore"; lr_decay: the learning rate of generation g is
    lr * lr_decay**g (1: constant, the reference).  Per-network defaults: the network's
    `strategy_defaults` (the reference's: dense RSNN sigma 0.3, lr 0.15; GRU/LSTM sigma 0.02, lr 0.01)."""

    sigma: float = 0.3
    lr: float = 0.15
    optimizer: str = "adamw"
    weight_decay: float = 0.1
    shaping: str = "centred_ranks"
    lr_decay: float = 1.0

    def __post_init__(self) -> None:
        check_weight_params(self)


@dataclass(frozen=True)
class WeightState:
    """center (D,) the mean parameters, optimiser state, index of the next generation, the run seed."""

    center: np.ndarray
    opt: OptState
    generation: int
    seed: int


@dataclass(frozen=True, eq=False)
class ESPopulation(Population):
    """Members are center +- sigma eps_k (pair k = members 2k, 2k+1); index >= size: the center (deployed)."""

    method: ClassVar[str] = "es"
    sigma: float = 0.0

    @property
    def n_params(self) -> int:
        return int(self.center.shape[0])

    def noise(self, k: int) -> np.ndarray:
        """eps_k (D,) float32: the unit noise of pair k."""
        return pair_rng(self.seed, self.generation, int(k), ES_STREAM).standard_normal(self.n_params, np.float32)

    def noise_block(self, pairs: Iterable[int]) -> np.ndarray:
        """(len(pairs), D) float32 unit noise of several pairs, drawn on two threads."""
        pairs = [int(k) for k in pairs]
        out = np.empty((len(pairs), self.n_params), np.float32)

        def fill(a: int, b: int) -> None:
            for row in range(a, b):
                out[row] = self.noise(pairs[row])

        halves(len(pairs), fill)
        return out

    def coef(self, index: int) -> float:
        """The member's signed noise scale: +sigma, -sigma, or 0 for the deterministic member."""
        return pair_sign(index, self.size, self.sigma)

    def member(self, index: int) -> np.ndarray:
        if index >= self.size:
            return self.deterministic()
        return self.center + self.coef(index) * self.noise(index // 2).astype(np.float64)

    def deterministic(self) -> np.ndarray:
        return self.center.copy()

    @property
    def perturbation_floats(self) -> int:
        """Floats of noise per pair (what a member costs beyond the shared center): D."""
        return self.n_params


class ES:
    """OpenAI-ES over a flat parameter vector of length n, `population` members (antithetic pairs) a generation."""

    name: ClassVar[str] = "es"
    Params: ClassVar[type] = ESParams

    def __init__(self, n: int, population: int = 64, params: ESParams = ESParams(),
                 init: Callable[[int], np.ndarray] | None = None) -> None:
        if not isinstance(n, int) or n < 1:
            raise UserError(f"ES needs a positive number of parameters, got {n!r}")
        self.n, self.population, self.params = n, check_population(population), params
        self._init = init

    @classmethod
    def for_network(cls, spec: Any, population: int, params: ESParams) -> "ES":
        """ES over every parameter of `spec` (a network that declares `layout`, `n_params`, `init_params`)."""
        _check_weights(spec, cls.name)
        return cls(spec.n_params, population, params, spec.init_params)

    def init(self, seed: int = 0, center: np.ndarray | None = None) -> WeightState:
        """The first state: center = `center`, else the network's initial parameters for `seed`, else zeros."""
        return init_state(self.n, seed, center, self._init)

    def ask(self, state: WeightState) -> ESPopulation:
        return ESPopulation(state.seed, state.generation, self.population, state.center, sigma=self.params.sigma)

    def gradient(self, pop: ESPopulation, fitness: np.ndarray) -> np.ndarray:
        """(sigma/K) sum_k w_k eps_k, the noise regenerated pair by pair in two fixed halves (deterministic)."""
        w = pair_weights(fitness, self.params.shaping)

        def part(a: int, b: int) -> np.ndarray:
            acc = np.zeros(self.n)
            for k in range(a, b):
                if w[k] != 0.0:  # float64 explicitly: numpy 1.x keeps float64 scalar * float32 array in float32
                    acc += np.multiply(pop.noise(k), w[k], dtype=np.float64)
            return acc

        lo, hi = halves(len(w), part)
        return (lo + hi) * (pop.sigma / len(w))

    def tell(self, state: WeightState, population: ESPopulation, fitness: Any) -> tuple[WeightState, dict[str, float]]:
        f = check_told(state, population, fitness, state.center)
        return step(self.params, state, f, self.gradient(population, f))


def _check_weights(spec: Any, method: str) -> None:
    if not all(hasattr(spec, a) for a in ("layout", "n_params", "init_params")):
        raise UserError(f"method {method!r} trains networks of real weights (a spec with a layout), "
                        f"not {type(spec).__name__}", "method")


def init_state(n: int, seed: int, center: np.ndarray | None, init: Callable[[int], np.ndarray] | None) -> WeightState:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}", "seed")
    if center is None:
        center = init(int(seed)) if init is not None else np.zeros(n)
    c = np.array(center, dtype=np.float64).reshape(-1)
    if c.shape != (n,):
        raise UserError(f"the initial center must have {n} parameters, got {c.shape[0]}")
    return WeightState(c, OptState.zeros(n), 0, int(seed))


def step(p: Any, state: WeightState, f: np.ndarray, g: np.ndarray) -> tuple[WeightState, dict[str, float]]:
    """Apply the optimiser to ascent direction g (learning rate lr * lr_decay**generation); the metrics tell
    reports."""
    lr = p.lr if p.lr_decay == 1.0 else p.lr * p.lr_decay ** state.generation
    delta, opt = ascend(p.optimizer, lr, g, state.opt, theta=state.center, weight_decay=p.weight_decay)
    center = state.center + delta
    metrics = {"grad_norm": float(np.linalg.norm(g)), "center_norm": float(np.linalg.norm(center)),
               "n_nonfinite": int(np.count_nonzero(~np.isfinite(f)))}
    return replace(state, center=center, opt=opt, generation=state.generation + 1), metrics
