"""The numpy backend: a whole population per call, float64 or Loihi-2 fixed point bit for bit (numba kernels)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import kernels
from ...compilers.common import Lowered
from ..base import SteppedBackend, Trace

_NO_REC = np.zeros((0, 1, 1))
_NO_REC_S = np.zeros((0, 1, 1), np.int32)


@dataclass
class NumpyProgram:
    """A lowered population plus its state: u, v (P, N) float64 or int64, r (P, N), spk (P, N) int32."""

    low: Lowered
    u: np.ndarray
    v: np.ndarray
    r: np.ndarray
    spk: np.ndarray
    counts: np.ndarray


class NumpyBackend(SteppedBackend):
    name: ClassVar[str] = "numpy"

    def compile(self, lowered: Lowered) -> NumpyProgram:
        P, N = lowered.population, lowered.spec.n_neurons
        dtype = np.float64 if lowered.fixed is None else np.int64
        return NumpyProgram(lowered, np.zeros((P, N), dtype), np.zeros((P, N), dtype), np.zeros((P, N)),
                            np.zeros((P, N), np.int32), np.zeros((P, N), np.int64))

    def reset(self, program: NumpyProgram, v0: np.ndarray) -> None:
        program.u[:] = 0
        program.v[:] = program.low.initial_v(v0)
        program.r[:] = 0.0
        program.spk[:] = 0
        program.counts[:] = 0

    def _run(self, pr: NumpyProgram, bias: np.ndarray, active: np.ndarray, rec=(_NO_REC, _NO_REC, _NO_REC_S)) -> None:
        low = pr.low
        K = low.spec.neuron.substeps
        f = low.flt
        act = np.ascontiguousarray(active, dtype=np.bool_)
        if low.fixed is None:
            kernels.run_float(low.W_h, low.spec.n_exc, act, np.ascontiguousarray(bias, np.float64), pr.u, pr.v,
                              pr.r, pr.spk, pr.counts, K, 1.0 - f.du, 1.0 - f.dv, f.vth, f.w, f.a_out, f.c_out, *rec)
        else:
            q = low.fixed
            kernels.run_fixed(low.W_h, low.spec.n_exc, act, np.ascontiguousarray(bias, np.int64), pr.u, pr.v,
                              pr.r, pr.spk, pr.counts, K, q.decay_u, q.decay_v, q.vth, q.w_mant, q.w_exp,
                              f.a_out, f.c_out, *rec)

    def advance(self, program: NumpyProgram, bias: np.ndarray, active: np.ndarray) -> np.ndarray:
        self._run(program, bias, active)
        return program.r

    def spike_counts(self, program: NumpyProgram) -> np.ndarray:
        return program.counts.copy()

    def open_loop(self, program: NumpyProgram, v0: np.ndarray, bias: np.ndarray) -> Trace:
        self.reset(program, v0)
        T, P, N = bias.shape
        K = program.low.spec.neuron.substeps
        dtype = program.u.dtype
        u = np.zeros((T * K, P, N), dtype)
        v = np.zeros((T * K, P, N), dtype)
        s = np.zeros((T * K, P, N), np.int32)
        r = np.zeros((T, P, N))
        active = np.ones(P, bool)
        for t in range(T):
            sl = slice(t * K, (t + 1) * K)
            self._run(program, bias[t], active, (u[sl], v[sl], s[sl]))
            r[t] = program.r
        return Trace(u, v, s, r)
