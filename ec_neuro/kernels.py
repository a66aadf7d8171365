"""Numba kernels of the numpy backend: K substeps of a population, event-driven over 1-bit rows.

Operation order is the canonical (Lava CUBA-LIF) one, one operation per statement so that no compiler may
fuse or reorder (numba never contracts to FMA without fastmath):
    float: u = u*(1-du); u = u + w*(nE-nI); v = v*(1-dv); v = v + u; v = v + bias; z = v > vth; v = 0 where z
    fixed: see ec_neuro.quant
and then the readout r = r*a_out; r = r + c_out*s.  Arrays: W_h (P, N, N) uint8 [member, pre, post];
state u, v, r (P, N); spk (P, N) int32 signed spikes (int32, not int8: byte stores from parallel threads raced) of the previous substep; counts (P, N) int64.
Recording arrays have shape (K, P, N), or (0, P, N) to record nothing.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

PAR = dict(parallel=True, cache=True, nogil=True, fastmath=False)


@njit(inline="always")
def _synaptic_counts(row_block, spk_row, cnt):
    """cnt[j] = sum_i s_i * W[i, j] over the signed spikes s of the previous substep."""
    n = cnt.shape[0]
    for j in range(n):
        cnt[j] = 0
    for i in range(n):
        s = spk_row[i]
        if s != 0:
            w = row_block[i]
            for j in range(n):
                cnt[j] += s * w[j]


@njit(**PAR)
def run_float(W_h, n_exc, active, bias, u, v, r, spk, counts, K, decay_u, decay_v, vth, w, a_out, c_out,
              rec_u, rec_v, rec_s):
    P, N = u.shape
    recording = rec_u.shape[0] > 0
    for p in prange(P):
        if not active[p]:
            continue
        cnt = np.zeros(N, np.int64)
        for k in range(K):
            _synaptic_counts(W_h[p], spk[p], cnt)
            for j in range(N):
                uu = u[p, j] * decay_u
                uu = uu + w * cnt[j]
                vv = v[p, j] * decay_v
                vv = vv + uu
                vv = vv + bias[p, j]
                s = 0
                if vv > vth:
                    vv = 0.0
                    s = 1 if j < n_exc else -1
                    counts[p, j] += 1
                u[p, j] = uu
                v[p, j] = vv
                spk[p, j] = s
                rr = r[p, j] * a_out
                r[p, j] = rr + c_out * s
                if recording:
                    rec_u[k, p, j] = uu
                    rec_v[k, p, j] = vv
                    rec_s[k, p, j] = s


@njit(inline="always")
def _trunc_decay(x, d):
    """trunc0(x * d / 4096): Lava's sign(x*d) * (|x*d| >> 12)."""
    y = x * d
    if y >= 0:
        return y >> 12
    return -((-y) >> 12)


@njit(**PAR)
def run_fixed(W_h, n_exc, active, bias, u, v, r, spk, counts, K, decay_u, decay_v, vth, w_mant, w_exp,
              a_out, c_out, rec_u, rec_v, rec_s):
    P, N = u.shape
    recording = rec_u.shape[0] > 0
    umax = 1 << 23
    vmax = (1 << 23) - 1
    for p in prange(P):
        if not active[p]:
            continue
        cnt = np.zeros(N, np.int64)
        for k in range(K):
            _synaptic_counts(W_h[p], spk[p], cnt)
            for j in range(N):
                a = cnt[j] * w_mant
                if w_exp >= 0:
                    a = a << w_exp
                else:
                    a = a >> (-w_exp)
                uu = _trunc_decay(u[p, j], decay_u) + (a << 6)
                if uu > umax:
                    uu -= 2 * umax
                elif uu <= -umax:
                    uu += 2 * umax
                vv = _trunc_decay(v[p, j], decay_v) + uu + bias[p, j]
                if vv > vmax:
                    vv = vmax
                elif vv < -vmax:
                    vv = -vmax
                s = 0
                if vv > vth:
                    vv = 0
                    s = 1 if j < n_exc else -1
                    counts[p, j] += 1
                u[p, j] = uu
                v[p, j] = vv
                spk[p, j] = s
                rr = r[p, j] * a_out
                r[p, j] = rr + c_out * s
                if recording:
                    rec_u[k, p, j] = uu
                    rec_v[k, p, j] = vv
                    rec_s[k, p, j] = s


@njit(**PAR)
def input_current(T_in, x, gain, out):
    """out[p, j] = gain * sum_k T_in[p, k, j] * x[p, k], k ascending; T_in int8 in {-1, 0, 1}."""
    P, K, N = T_in.shape
    for p in prange(P):
        acc = np.zeros(N, np.float64)
        for k in range(K):
            xk = x[p, k]
            if xk != 0.0:
                t = T_in[p, k]
                for j in range(N):
                    acc[j] += t[j] * xk
        for j in range(N):
            out[p, j] = gain * acc[j]


@njit(**PAR)
def readout(W_out, r, gain, out):
    """out[p, a] = clip(gain * sum_j W_out[p, j, a] * r[p, j], -1, 1), j ascending."""
    P, N, A = W_out.shape
    for p in prange(P):
        for a in range(A):
            acc = 0.0
            for j in range(N):
                if W_out[p, j, a]:
                    acc += r[p, j]
            y = gain * acc
            out[p, a] = min(1.0, max(-1.0, y))
