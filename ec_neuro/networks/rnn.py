"""ES-GRU and ES-LSTM policies (spec/weights.py: GRUSpec, LSTMSpec) for a whole population, one control step per
`act`: the dense products in numba (networks/layers.py, by how the population holds its weights), the cell's
element-wise gates in numpy over the whole population (float32, SIMD tanh).

    GRU   r = sig(x W_ir + b_ir + h W_hr);  z = sig(x W_iz + b_iz + h W_hz)
          n = tanh(x W_in + b_in + r (h W_hn + b_hn));  h' = (1 - z) n + z h
    LSTM  [i f g o] = x W_i + h W_h + b_h;  c' = sig(f) c + sig(i) tanh(g);  h' = sig(o) tanh(c')
    action = clip(h' W_o + b_o, -1, 1);  the carry starts at 0 (the reference's initial_carry)

ES members are the center plus each pair's unit noise (a pair's noise is read once for its two members), EGGROLL
members the center plus low-rank factors, any other population its materialised weights.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..spec.weights import LSTMSpec, _RNNSpec
from ..strategies.base import Population
from ..strategies.eggroll import EGGROLLPopulation
from ..strategies.es import ESPopulation
from . import layers
from . import members as mem


def _sig(x: np.ndarray) -> np.ndarray:
    return np.float32(0.5) * (np.float32(1.0) + np.tanh(np.float32(0.5) * x))  # 1/(1+e^-x), no overflow


class RNNPopulation:
    """The members `indices` of a population over a GRUSpec's or LSTMSpec's parameters, stepped together."""

    def __init__(self, spec: _RNNSpec, pop: Population, indices: Iterable[int]) -> None:
        self.spec = spec
        self.idx = np.asarray(list(indices), np.int64)
        self.P = len(self.idx)
        self.lstm = isinstance(spec, LSTMSpec)
        vec_names = [name for name, s in spec.layout if len(s) == 1]
        if isinstance(pop, ESPopulation):
            self.mode = "pairs"
            m: Any = mem.pairs(pop, spec.layout, self.idx)
            self.vec = {name: m.vector(name) for name in vec_names}
            self.groups = layers.pair_groups(m.pair, m.coef)
        elif isinstance(pop, EGGROLLPopulation):
            self.mode = "low_rank"
            m = mem.low_rank(pop, spec.layout, self.idx)
            self.vec = m.vectors
        else:
            self.mode = "full"
            m = mem.materialise(pop, spec.layout, self.idx)
            self.vec = {name: m[name] for name in vec_names}
        self.m = m
        self.coef = m.coef.astype(np.float32) if self.mode != "full" else None
        self.nbytes = (m.nbytes if self.mode != "full" else sum(a.nbytes for a in m.values()))
        self.reset()

    def reset(self, v0: Any = None) -> None:
        """The carry to 0 (v0, the spiking networks' initial potentials, is not used)."""
        H = self.spec.hidden
        self.h = np.zeros((self.P, H), np.float32)
        self.c = np.zeros((self.P, H), np.float32)

    def _dense(self, x: np.ndarray, name: str, active: np.ndarray) -> np.ndarray:
        n = dict(self.spec.layout)[name][1]
        out = np.zeros((self.P, n), np.float32)
        m = self.m
        if self.mode == "pairs":
            layers.pair_dense(x, m.center[name], m.noise[name], self.groups, self.coef, active, out)
        elif self.mode == "low_rank":
            layers.low_rank_dense(x, m.center[name], m.A[name], m.Bt[name], m.pair, self.coef, active, out)
        else:
            layers.full_dense(x, m[name], active, out)
        return out

    def act(self, x: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """One control step: x (P, n_obs) -> actions (P, n_act) float64 in [-1, 1]."""
        act = np.ones(self.P, np.bool_) if active is None else np.ascontiguousarray(active, np.bool_)
        H, v = self.spec.hidden, self.vec
        xf = np.ascontiguousarray(x, np.float32)
        gi = self._dense(xf, "W_i", act)
        gh = self._dense(self.h, "W_h", act)
        if self.lstm:
            g = gi + gh + v["b_h"]
            self.c = _sig(g[:, H:2 * H]) * self.c + _sig(g[:, :H]) * np.tanh(g[:, 2 * H:3 * H])
            h = _sig(g[:, 3 * H:]) * np.tanh(self.c)
        else:
            gi += v["b_i"]
            gh[:, 2 * H:] += v["b_hn"]
            r = _sig(gi[:, :H] + gh[:, :H])
            z = _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
            h = (np.float32(1.0) - z) * n + z * self.h
        self.h = np.ascontiguousarray(h, np.float32)
        y = self._dense(self.h, "W_o", act) + v["b_o"]
        return np.clip(y, -1.0, 1.0).astype(np.float64)

    def spike_counts(self) -> np.ndarray:
        return np.zeros(self.P, np.int64)
