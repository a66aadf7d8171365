"""EGGROLL: low-rank ES (Sarkar et al., arXiv 2511.16652; docs/model.md §3, docs/design/eggroll.md), ask/tell.

The parameters are a flat vector laid out by the network's `layout` = ((name, shape), ...), row-major, a shape
(m, n) for a weight matrix or (n,) for a vector.  Pair k (members 2k with sign +, 2k+1 with sign -) perturbs
    a matrix (m, n) by sigma E_k,  E_k = A_k B_k^T / sqrt(r),   A_k (m, r), B_k (n, r) ~ N(0, 1) float32
    a vector (n,)   by sigma eps_k (full Gaussian noise)
all regenerated from (seed, generation, k): r (m + n) floats per matrix instead of m n.  The update has the
convention of ES (strategies/es.py):
    g = (sigma / K) sum_k w_k E_k,   w_k = u_2k - u_2k+1      (= 2 sigma (1/N) sum_i u_i E_i, E_{2k+1} = -E_k)
computed per matrix as one GEMM (diag(w) A)^T B over the stacked factors of a chunk of pairs; no E_k is formed.
A population forward evaluates x (M + sigma E)^T as the shared x M^T plus the thin (sigma/sqrt r)(x B) A^T
(ec_neuro/networks/).

    eg = EGGROLL(spec.layout, population=256, params=EGGROLLParams(rank=1))
    pop = eg.ask(eg.init(seed=0, center=theta0))   # pop.factors(k), pop.stacked(pairs), pop.member(i)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable

import numpy as np

from ..errors import UserError
from .base import Population, check_told
from .es import WeightState, _check_weights, check_population, check_weight_params, init_state, step
from .shaping import EGGROLL_STREAM, pair_rng, pair_sign, pair_weights

Layout = tuple[tuple[str, tuple[int, ...]], ...]


def check_layout(layout: Any) -> Layout:
    """((name, shape), ...) with every shape (m, n) or (n,) of positive integers."""
    try:
        out = tuple((str(name), tuple(int(x) for x in shape)) for name, shape in layout)
    except (TypeError, ValueError):
        raise UserError(f"a layout is ((name, shape), ...), got {layout!r}") from None
    if not out or any(len(s) not in (1, 2) or min(s) < 1 for _, s in out):
        raise UserError(f"layout entries must be matrices (m, n) or vectors (n,), got {out!r}")
    return out


def layout_size(layout: Layout) -> int:
    return sum(math.prod(s) for _, s in layout)


def noise_size(layout: Layout, rank: int) -> int:
    """Floats drawn per pair: r (m + n) per matrix, n per vector."""
    return sum((s[0] + s[1]) * rank if len(s) == 2 else s[0] for _, s in layout)


@dataclass(frozen=True)
class EGGROLLParams:
    """rank r of each matrix's perturbation; sigma, lr, optimizer, weight_decay, shaping, lr_decay as ESParams."""

    rank: int = 1
    sigma: float = 0.3
    lr: float = 0.15
    optimizer: str = "adamw"
    weight_decay: float = 0.1
    shaping: str = "centred_ranks"
    lr_decay: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.rank, int) or isinstance(self.rank, bool) or not 1 <= self.rank <= 4096:
            raise UserError(f"strategy.rank must be an integer from 1 to 4096, got {self.rank!r}", "strategy.rank")
        check_weight_params(self)


@dataclass(frozen=True, eq=False)
class EGGROLLPopulation(Population):
    """Members center +- sigma E_k per matrix (+- sigma eps_k per vector); index >= size: the center."""

    method: ClassVar[str] = "eggroll"
    sigma: float = 0.0
    rank: int = 1
    layout: Layout = ()

    def factors(self, k: int) -> list[tuple[np.ndarray, ...]]:
        """Per layout entry: (A (m, r), B (n, r)) for a matrix, (eps (n,),) for a vector; float32, pair k."""
        r = self.rank
        z = pair_rng(self.seed, self.generation, int(k), EGGROLL_STREAM).standard_normal(
            noise_size(self.layout, r), np.float32)
        out, o = [], 0
        for _, s in self.layout:
            if len(s) == 2:
                m, n = s
                out.append((z[o:o + m * r].reshape(m, r), z[o + m * r:o + (m + n) * r].reshape(n, r)))
                o += (m + n) * r
            else:
                out.append((z[o:o + s[0]],))
                o += s[0]
        return out

    def stacked(self, pairs: Iterable[int]) -> list[tuple[np.ndarray, ...]]:
        """factors of several pairs stacked on a leading axis: A (K, m, r), B (K, n, r), or eps (K, n)."""
        per = [self.factors(int(k)) for k in pairs]
        if not per:
            r = self.rank
            return [(np.zeros((0, s[0], r), np.float32), np.zeros((0, s[1], r), np.float32)) if len(s) == 2
                    else (np.zeros((0, s[0]), np.float32),) for _, s in self.layout]
        return [tuple(np.stack([p[j][t] for p in per]) for t in range(len(per[0][j]))) for j in range(len(self.layout))]

    def perturbation(self, k: int) -> np.ndarray:
        """E_k of every block, flat (D,) float64 (tests, and forwards that want full weights)."""
        parts = []
        for f in self.factors(k):
            if len(f) == 2:
                parts.append((f[0].astype(np.float64) @ f[1].T.astype(np.float64)).ravel() / math.sqrt(self.rank))
            else:
                parts.append(f[0].astype(np.float64))
        return np.concatenate(parts)

    def coef(self, index: int) -> float:
        """The member's signed scale: +-sigma, or 0 for the deterministic member."""
        return pair_sign(index, self.size, self.sigma)

    def member(self, index: int) -> np.ndarray:
        if index >= self.size:
            return self.deterministic()
        return self.center + self.coef(index) * self.perturbation(index // 2)

    def deterministic(self) -> np.ndarray:
        return self.center.copy()

    @property
    def perturbation_floats(self) -> int:
        """Floats of noise per pair: r (m + n) per matrix plus n per vector."""
        return noise_size(self.layout, self.rank)


class EGGROLL:
    """Low-rank ES over the parameters laid out by `layout`, `population` members (antithetic pairs)."""

    name: ClassVar[str] = "eggroll"
    Params: ClassVar[type] = EGGROLLParams

    def __init__(self, layout: Any, population: int = 64, params: EGGROLLParams = EGGROLLParams(),
                 init: Callable[[int], np.ndarray] | None = None) -> None:
        self.layout = check_layout(layout)
        self.n = layout_size(self.layout)
        self.population, self.params, self._init = check_population(population), params, init

    @classmethod
    def for_network(cls, spec: Any, population: int, params: EGGROLLParams) -> "EGGROLL":
        _check_weights(spec, cls.name)
        return cls(spec.layout, population, params, spec.init_params)

    def init(self, seed: int = 0, center: np.ndarray | None = None) -> WeightState:
        return init_state(self.n, seed, center, self._init)

    def ask(self, state: WeightState) -> EGGROLLPopulation:
        p = self.params
        return EGGROLLPopulation(state.seed, state.generation, self.population, state.center, sigma=p.sigma,
                                 rank=p.rank, layout=self.layout)

    def gradient(self, pop: EGGROLLPopulation, fitness: np.ndarray, chunk: int = 256) -> np.ndarray:
        """(sigma/K) sum_k w_k E_k: per matrix (diag(w) A)^T B over chunks of pairs (bounded memory)."""
        w = pair_weights(fitness, self.params.shaping)
        K, r = len(w), pop.rank
        parts = [np.zeros(s) for _, s in self.layout]
        for c0 in range(0, K, chunk):
            ks = np.arange(c0, min(K, c0 + chunk))
            wk = w[ks]
            for j, f in enumerate(pop.stacked(ks)):
                if len(f) == 2:
                    A, B = f                                                  # (k, m, r), (k, n, r)
                    m, n = A.shape[1], B.shape[1]
                    Aw = (A.astype(np.float64) * wk[:, None, None]).transpose(1, 0, 2).reshape(m, -1)
                    parts[j] += Aw @ B.astype(np.float64).transpose(1, 0, 2).reshape(n, -1).T   # (diag(w) A)^T B
                else:
                    parts[j] += wk @ f[0].astype(np.float64)
        scale = [pop.sigma / (K * math.sqrt(r)) if len(s) == 2 else pop.sigma / K for _, s in self.layout]
        return np.concatenate([(p * c).ravel() for p, c in zip(parts, scale)])

    def tell(self, state: WeightState, population: EGGROLLPopulation, fitness: Any
             ) -> tuple[WeightState, dict[str, float]]:
        f = check_told(state, population, fitness, state.center)
        return step(self.params, state, f, self.gradient(population, f))
