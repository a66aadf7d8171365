"""The members of a weight-space population as a population forward reads them, for any parameter layout.

    materialise(pop, layout, idx) -> {name: (P, *shape) float32}    every member's own weights (any Population)
    pairs(pop, layout, idx)       -> PairMembers     ES: the center, each pair's unit noise once, coef = +-sigma
    low_rank(pop, layout, idx)    -> LowRankMembers  EGGROLL: the center, per pair A (m, r) and B^T (r, n) of each
                                                     matrix, per member its vectors; coef = +-sigma / sqrt(r)

A member index >= pop.size is the deterministic network (the center): coef 0.  Every member's arithmetic depends
only on its own index, never on which other members are in `idx`, so results do not depend on how a generation's
slots are split between workers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..strategies.base import Population
from ..strategies.eggroll import EGGROLLPopulation
from ..strategies.es import ESPopulation, halves

Layout = tuple[tuple[str, tuple[int, ...]], ...]


def _offsets(layout: Layout) -> dict[str, tuple[int, int]]:
    out, o = {}, 0
    for name, s in layout:
        n = math.prod(s)
        out[name] = (o, o + n)
        o += n
    return out


def _pairs_of(pop: Population, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs of the training members in idx, and each member's row among them (0 for the center)."""
    train = idx < pop.size
    pairs, local = np.unique(idx[train] // 2, return_inverse=True)
    row = np.zeros(len(idx), np.int64)
    row[train] = local
    return pairs, row


def coefs(pop: Population, idx: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(P,) float64: +scale for member 2k, -scale for 2k+1, 0 for the deterministic member."""
    return np.array([0.0 if i >= pop.size else (scale if i % 2 == 0 else -scale) for i in idx])


def materialise(pop: Population, layout: Layout, indices: Iterable[int]) -> dict[str, np.ndarray]:
    """Every member's parameters, one contiguous float32 array per block: member = float32(center + coef eps)
    for ES (each pair's noise drawn once, on two threads), float32(pop.member(i)) for any other population."""
    idx = np.asarray(list(indices), np.int64)
    P, off = len(idx), _offsets(layout)
    out = {name: np.empty((P, *s), np.float32) for name, s in layout}

    def put(row: int, flat: np.ndarray) -> None:
        for name, (a, b) in off.items():
            out[name][row].reshape(-1)[:] = flat[a:b]

    center = np.asarray(pop.center, np.float64)
    det = np.flatnonzero(idx >= pop.size)
    for row in det:
        put(int(row), center)
    if isinstance(pop, ESPopulation):
        pairs, _ = _pairs_of(pop, idx)
        rows = {int(k): np.flatnonzero((idx // 2 == k) & (idx < pop.size)) for k in pairs}

        def fill(a: int, b: int) -> None:
            for k in pairs[a:b]:
                eps = pop.noise(int(k))
                for row in rows[int(k)]:
                    put(int(row), center + np.multiply(eps, pop.coef(int(idx[row])), dtype=np.float64))

        halves(len(pairs), fill)
    else:
        for row in np.flatnonzero(idx < pop.size):
            put(int(row), np.asarray(pop.member(int(idx[row])), np.float64))
    return out


def center_blocks(pop: Population, layout: Layout) -> dict[str, np.ndarray]:
    """The center as contiguous float32 blocks."""
    c = np.asarray(pop.center, np.float64)
    return {name: np.ascontiguousarray(c[a:b].reshape(s), np.float32)
            for (name, s), (a, b) in zip(layout, _offsets(layout).values())}


@dataclass
class PairMembers:
    """ES members: W_member = center + coef * noise[pair] per block (noise: unit, float32, a pair's once)."""

    center: dict[str, np.ndarray]
    noise: dict[str, np.ndarray]   # name -> (Kp, *shape)
    pair: np.ndarray               # (P,) int64
    coef: np.ndarray               # (P,) float64

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (*self.center.values(), *self.noise.values()))

    def vector(self, name: str) -> np.ndarray:
        """(P, n) float32 per-member values of a vector block."""
        c = self.center[name].astype(np.float64)
        return (c[None] + self.coef[:, None] * self.noise[name][self.pair].astype(np.float64)).astype(np.float32)


def pairs(pop: ESPopulation, layout: Layout, indices: Iterable[int]) -> PairMembers:
    idx = np.asarray(list(indices), np.int64)
    keys, row = _pairs_of(pop, idx)
    off = _offsets(layout)
    noise = {name: np.zeros((max(len(keys), 1), *s), np.float32) for name, s in layout}

    def fill(a: int, b: int) -> None:  # each pair's noise drawn once, straight into the blocks
        for q in range(a, b):
            eps = pop.noise(int(keys[q]))
            for name, (lo, hi) in off.items():
                noise[name][q].reshape(-1)[:] = eps[lo:hi]

    halves(len(keys), fill)
    return PairMembers(center_blocks(pop, layout), noise, row, coefs(pop, idx, pop.sigma))


@dataclass
class LowRankMembers:
    """EGGROLL members: a matrix block is center + coef * A[pair] @ Bt[pair]; a vector block is per member."""

    center: dict[str, np.ndarray]
    A: dict[str, np.ndarray]        # name -> (Kp, m, r) float32
    Bt: dict[str, np.ndarray]       # name -> (Kp, r, n) float32
    vectors: dict[str, np.ndarray]  # name -> (P, n) float32 (center + sign sigma eps)
    pair: np.ndarray                # (P,) int64
    coef: np.ndarray                # (P,) float64: +-sigma / sqrt(r), 0 for the center
    rank: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (*self.center.values(), *self.A.values(), *self.Bt.values(),
                                      *self.vectors.values()))


def low_rank(pop: EGGROLLPopulation, layout: Layout, indices: Iterable[int]) -> LowRankMembers:
    idx = np.asarray(list(indices), np.int64)
    keys, row = _pairs_of(pop, idx)
    r = pop.rank
    stacked = pop.stacked(keys)
    center = center_blocks(pop, layout)
    A, Bt, vectors = {}, {}, {}
    sign_sigma = coefs(pop, idx, pop.sigma)
    for (name, s), f in zip(layout, stacked):
        if len(s) == 2:
            if not len(keys):  # only deterministic members: factors that are never used (coef 0)
                f = (np.zeros((1, s[0], r), np.float32), np.zeros((1, s[1], r), np.float32))
            A[name] = np.ascontiguousarray(f[0])
            Bt[name] = np.ascontiguousarray(np.swapaxes(f[1], 1, 2))
        else:
            eps = f[0][row].astype(np.float64) if len(keys) else np.zeros((len(idx), s[0]))
            vectors[name] = (center[name].astype(np.float64)[None] + sign_sigma[:, None] * eps).astype(np.float32)
    return LowRankMembers(center, A, Bt, vectors, row, sign_sigma / math.sqrt(r), r)
