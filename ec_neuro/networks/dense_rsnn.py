"""The dense RSNN (spec/weights.py: DenseRSNNSpec) for a whole population, float32, numba; one call per control
step with the K substeps fused, prange over members.

Spikes are sparse (about 2 % of the neurons per substep), so the recurrent input s W_h is the sum of the rows of
W_h of the neurons that spiked, never a dense matmul.  Two kernels:

  ES (materialised)  every member's own W_in, W_h, W_out (float32): input x W_in[p] per member, rows of W_h[p];
                     a member's W_h (256 KB at N = 256) stays in cache for the 33 substeps.
  EGGROLL (low rank) the shared center W and, per member, the rank-r factors of its pair:
                        input   x W_in + c_p (x A_in) B_in^T
                        rec.    sum of shared W_h rows + c_p (sum of the A_h rows of the spiking neurons) B_h^T
                        readout rate W_out + c_p (rate A_out) B_out^T
                     with c_p = +-sigma / sqrt(r): r (m + n) floats per member instead of m n, and the shared W_h
                     stays hot in cache for every member.
A member's arithmetic depends only on itself (no cross-member GEMM), so fitness does not depend on how members
are split between workers.  Substep (the reference's order of operations, `lerp(y, x, a) = x + a (y - x)`):
    i_syn = a_syn i_syn + R acc;  x = i_syn + i_in;  v = x + a_V (v - x);  s = v > V_th;  v = 0 where s
    rate = y + a_out (rate - y),  y = s / dt
The rate is read only by the readout, at the end of the control step, so it is computed there from its closed
form over the K substeps, rate_K = a_out^K rate_0 + sum_k (1 - a_out) a_out^(K-1-k) y_k: one sparse add per spike
instead of a dense pass per substep (the same quantity, rounded differently: float32 either way).
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
from numba import njit, prange

from ..compilers.codec import spike_indices
from ..spec.weights import DenseRSNNSpec
from ..strategies.base import Population
from ..strategies.eggroll import EGGROLLPopulation
from . import members as mem

KER = dict(parallel=True, cache=True, nogil=True, fastmath={"contract"})


def consts(spec: DenseRSNNSpec) -> tuple[np.ndarray, np.ndarray]:
    """[R_in, R, R_out, a_syn, a_V, a_out^K, 1/dt, V_th] and the weight of a spike at substep k in the rate at the
    end of the control step, (1 - a_out) a_out^(K-1-k) / dt; float32."""
    p = spec.neuron
    K = p.substeps
    c = np.array([spec.R_in, spec.R, spec.R_out, p.a_syn, p.a_mem, p.a_out ** K, 1.0 / p.dt, p.v_th], np.float32)
    wk = np.array([(1.0 - p.a_out) * p.a_out ** (K - 1 - k) / p.dt for k in range(K)], np.float32)
    return c, wk


@njit(inline="always")
def _update(c, i_in, acc, v, i_syn, fl):
    """One substep of one member's neurons, one loop that LLVM vectorises (checked in the assembly)."""
    R, a_syn, a_V, vth = c[1], c[3], c[4], c[7]
    zero = np.float32(0.0)
    for j in range(v.shape[0]):
        isyn = i_syn[j] * a_syn + R * acc[j]
        i_syn[j] = isyn
        xx = isyn + i_in[j]
        vv = xx + a_V * (v[j] - xx)
        z = vv > vth
        v[j] = zero if z else vv
        fl[j] = np.uint8(1) if z else np.uint8(0)


@njit(inline="always")
def _update_lr1(c, i_in, acc, w, b, v, i_syn, fl):
    """_update with a rank-1 term added to the recurrent input in the same pass: acc + w b."""
    R, a_syn, a_V, vth = c[1], c[3], c[4], c[7]
    zero = np.float32(0.0)
    for j in range(v.shape[0]):
        isyn = i_syn[j] * a_syn + R * (acc[j] + w * b[j])
        i_syn[j] = isyn
        xx = isyn + i_in[j]
        vv = xx + a_V * (v[j] - xx)
        z = vv > vth
        v[j] = zero if z else vv
        fl[j] = np.uint8(1) if z else np.uint8(0)


@njit(inline="always")
def _gather(W, idx, m, acc):
    """acc = the sum of the rows idx[:m] of W, two rows per pass over acc (in index order, so deterministic)."""
    N = acc.shape[0]
    if m % 2 == 1:
        r0 = W[idx[0]]
        for j in range(N):
            acc[j] = r0[j]
    elif m > 0:
        r0, r1 = W[idx[0]], W[idx[1]]
        for j in range(N):
            acc[j] = r0[j] + r1[j]
    else:
        acc[:] = 0
    for t in range(2 - m % 2, m, 2):
        r0, r1 = W[idx[t]], W[idx[t + 1]]
        for j in range(N):
            acc[j] += r0[j] + r1[j]


@njit(inline="always")
def _spiked(idx, m, w, racc):
    """The spikes idx[:m] of one substep into the rate accumulator, each with that substep's weight."""
    for t in range(m):
        racc[idx[t]] += w


@njit(inline="always")
def _rate(c, rate, racc):
    aK = c[5]
    for j in range(rate.shape[0]):
        rate[j] = aK * rate[j] + racc[j]


@njit(inline="always")
def _clip(y):
    return min(np.float32(1.0), max(np.float32(-1.0), y))


@njit(**KER)
def _es_step(W_in, W_h, W_out, x, active, v, i_syn, rate, spk, count, K, c, wk, out):
    P, n_obs, N = W_in.shape
    n_act = W_out.shape[2]
    R_in, R_out = c[0], c[2]
    for p in prange(P):
        if not active[p]:
            continue
        i_in = np.zeros(N, np.float32)
        for o in range(n_obs):
            xo = x[p, o]
            row = W_in[p, o]
            for j in range(N):
                i_in[j] += xo * row[j]
        for j in range(N):
            i_in[j] = R_in * i_in[j]
        idx = np.empty(N, np.int64)
        acc = np.zeros(N, np.float32)
        racc = np.zeros(N, np.float32)
        vp, ip, rp, fp = v[p], i_syn[p], rate[p], spk[p]
        words = fp.view(np.uint64)
        Wp = W_h[p]
        n_sp = 0
        for k in range(K):
            m = spike_indices(fp, words, idx)
            if k > 0:
                n_sp += m
                _spiked(idx, m, wk[k - 1], racc)
            _gather(Wp, idx, m, acc)
            _update(c, i_in, acc, vp, ip, fp)
        m = spike_indices(fp, words, idx)
        count[p] += n_sp + m
        _spiked(idx, m, wk[K - 1], racc)
        _rate(c, rp, racc)
        Wo = W_out[p]
        acco = np.zeros(n_act, np.float32)
        for j in range(N):
            rj = rp[j]
            for a in range(n_act):
                acco[a] += rj * Wo[j, a]
        for a in range(n_act):
            out[p, a] = _clip(R_out * acco[a])


@njit(**KER)
def _egg_step(x, pair, coef, W_in, A_in, Bt_in, W_h, A_h, Bt_h, W_out, A_o, Bt_o, active, v, i_syn, rate, spk,
              count, K, c, wk, out):
    """W_* the shared center (m, n); A_* (Kp, m, r), Bt_* (Kp, r, n) the factors of the member's pair."""
    P = x.shape[0]
    n_obs, N = W_in.shape
    r = A_in.shape[2]
    n_act = W_out.shape[1]
    R_in, R_out = c[0], c[2]
    for p in prange(P):
        if not active[p]:
            continue
        q = pair[p]
        cp = coef[p]
        i_in = np.zeros(N, np.float32)
        xa = np.zeros(r, np.float32)
        for o in range(n_obs):
            xo = x[p, o]
            row = W_in[o]
            for j in range(N):
                i_in[j] += xo * row[j]
            for t in range(r):
                xa[t] += xo * A_in[q, o, t]
        for t in range(r):
            w = cp * xa[t]
            for j in range(N):
                i_in[j] += w * Bt_in[q, t, j]
        for j in range(N):
            i_in[j] = R_in * i_in[j]
        idx = np.empty(N, np.int64)
        acc = np.zeros(N, np.float32)
        racc = np.zeros(N, np.float32)
        sa = np.zeros(r, np.float32)
        vp, ip, rp, fp = v[p], i_syn[p], rate[p], spk[p]
        words = fp.view(np.uint64)
        Aq, Bq = A_h[q], Bt_h[q]
        n_sp = 0
        for k in range(K):
            m = spike_indices(fp, words, idx)
            if k > 0:
                n_sp += m
                _spiked(idx, m, wk[k - 1], racc)
            _gather(W_h, idx, m, acc)
            sa[:] = 0
            for t2 in range(m):
                i = idx[t2]
                for t in range(r):
                    sa[t] += Aq[i, t]
            if r == 1:
                _update_lr1(c, i_in, acc, cp * sa[0], Bq[0], vp, ip, fp)
            else:
                for t in range(r):
                    w = cp * sa[t]
                    brow = Bq[t]
                    for j in range(N):
                        acc[j] += w * brow[j]
                _update(c, i_in, acc, vp, ip, fp)
        m = spike_indices(fp, words, idx)
        count[p] += n_sp + m
        _spiked(idx, m, wk[K - 1], racc)
        _rate(c, rp, racc)
        ra = np.zeros(r, np.float32)
        acco = np.zeros(n_act, np.float32)
        for j in range(N):
            rj = rp[j]
            for a in range(n_act):
                acco[a] += rj * W_out[j, a]
            for t in range(r):
                ra[t] += rj * A_o[q, j, t]
        for t in range(r):
            w = cp * ra[t]
            for a in range(n_act):
                acco[a] += w * Bt_o[q, t, a]
        for a in range(n_act):
            out[p, a] = _clip(R_out * acco[a])


class DenseRSNNPopulation:
    """The members `indices` of a population over a DenseRSNNSpec's parameters, stepped together.

    EGGROLL populations run low rank (the shared center plus factors); any other population (ES, or a
    Population of your own) runs every member's materialised float32 weights."""

    def __init__(self, spec: DenseRSNNSpec, pop: Population, indices: Iterable[int]) -> None:
        self.spec = spec
        self.idx = np.asarray(list(indices), np.int64)
        self.P = len(self.idx)
        self.c, self.wk = consts(spec)
        self.low_rank = isinstance(pop, EGGROLLPopulation)
        if self.low_rank:
            m = mem.low_rank(pop, spec.layout, self.idx)
            self.m: Any = m
            self.args = (m.pair, m.coef.astype(np.float32),
                         m.center["W_in"], m.A["W_in"], m.Bt["W_in"], m.center["W_h"], m.A["W_h"], m.Bt["W_h"],
                         m.center["W_out"], m.A["W_out"], m.Bt["W_out"])
            self.nbytes = m.nbytes
        else:
            w = mem.materialise(pop, spec.layout, self.idx)
            self.args = (w["W_in"], w["W_h"], w["W_out"])
            self.nbytes = sum(a.nbytes for a in w.values())
        self.reset(np.zeros((self.P, spec.n_neurons)))

    def reset(self, v0: np.ndarray) -> None:
        """v = v0 * V_th (v0 in [0, 1), (P, N)); synaptic currents, rates and spikes 0."""
        P, N = self.P, self.spec.n_neurons
        self.v = np.ascontiguousarray(np.asarray(v0, np.float64) * self.spec.neuron.v_th, np.float32)
        self.i_syn = np.zeros((P, N), np.float32)
        self.rate = np.zeros((P, N), np.float32)
        self.spk = np.zeros((P, -(-N // 8) * 8), np.uint8)  # spike flags, rows padded for spike_indices' 8-byte words
        self.counts = np.zeros(P, np.int64)

    def act(self, x: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """One control step: x (P, n_obs) -> actions (P, n_act) float64 in [-1, 1]; inactive members are skipped
        (their actions are 0)."""
        out = np.zeros((self.P, self.spec.n_act), np.float32)
        xf = np.ascontiguousarray(x, np.float32)
        act = np.ones(self.P, np.bool_) if active is None else np.ascontiguousarray(active, np.bool_)
        K = self.spec.neuron.substeps
        state = (act, self.v, self.i_syn, self.rate, self.spk, self.counts, K, self.c, self.wk, out)
        if self.low_rank:
            _egg_step(xf, *self.args, *state)
        else:
            _es_step(*self.args, xf, *state)
        return out.astype(np.float64)

    def spike_counts(self) -> np.ndarray:
        return self.counts.copy()
