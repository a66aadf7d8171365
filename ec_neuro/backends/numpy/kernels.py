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

from ...compilers.codec import dispatch as _dispatch, spike_indices

MAX_NEURONS = 32767  # the synaptic counts are int16


@njit(inline="always")
def _synaptic_counts(Wp, sgn, idx, m, cnt):
    """cnt[j] = sum over last substep's spikes i of sign_i * W[i, j] (integers: any order is exact)."""
    cnt[:] = 0
    for t in range(m):
        i = idx[t]
        row = Wp[i]
        if sgn[i] > 0:  # an add or a subtract per row, not a multiply per synapse
            for j in range(cnt.shape[0]):
                cnt[j] += row[j]
        else:
            for j in range(cnt.shape[0]):
                cnt[j] -= row[j]


@njit(inline="always")
def _scratch(N, spk_row, sgn):
    """Per-thread buffers: spike flags (padded to 64-bit words) seeded from spk_row, indices, counts (int16:
    32 lanes per AVX-512 add, 2.4x faster than int32 at 7 spikes per substep; |count| <= N <= MAX_NEURONS)."""
    nw = (N + 7) // 8
    fl = np.zeros(nw * 8, np.uint8)
    for j in range(N):
        fl[j] = 1 if spk_row[j] != 0 else 0
    return fl, fl.view(np.uint64), np.empty(N, np.int64), np.zeros(N, np.int16)


@njit(inline="always")
def _fire(j, uu, vv, vth, up, vp, fl):
    """Neuron j after its update (u -> uu, v -> vv): spike v > vth, reset to 0, flag (both precisions)."""
    z = vv > vth
    up[j] = uu
    vp[j] = 0 if z else vv
    fl[j] = 1 if z else 0


@njit(inline="always")
def _readout(fl, csgn, cp, rp, a_out):
    """The second pass of a substep, from the flags: count, and the readout r = r*a_out + c_out*s with
    csgn = c_out*sign (c_out > 0, so c_out*s is +-c_out or +0.0: exactly the product).  Kept out of the update loop:
    LLVM vectorises two short loops over few arrays where one long one needs too many run-time alias checks."""
    for j in range(cp.shape[0]):
        z = fl[j]
        cp[j] += z
        rr = rp[j] * a_out
        rp[j] = rr + (csgn[j] if z else 0.0)


@njit(inline="always")
def _finish(p, k, fl, sgn, spk, rec_u, rec_v, rec_s, u, v, recording, last):
    """Record substep k and, after the last one, leave the signed spikes in spk for the next call."""
    N = u.shape[1]
    if recording:
        for j in range(N):
            rec_u[k, p, j] = u[p, j]
            rec_v[k, p, j] = v[p, j]
            rec_s[k, p, j] = sgn[j] if fl[j] else 0
    if last:
        for j in range(N):
            spk[p, j] = sgn[j] if fl[j] else 0


@_dispatch
def run_float(W_h, n_exc, active, bias, u, v, r, spk, counts, K, decay_u, decay_v, vth, w, a_out, c_out,
              rec_u, rec_v, rec_s):
    P, N = u.shape
    if N > MAX_NEURONS:
        raise ValueError("the numpy kernels count synapses in int16: at most 32767 neurons per network")
    recording = rec_u.shape[0] > 0
    sgn = np.where(np.arange(N) < n_exc, 1, -1).astype(np.int32)
    csgn = c_out * sgn
    for p in prange(P):
        if not active[p]:
            continue
        fl, words, idx, cnt = _scratch(N, spk[p], sgn)
        up, vp, rp, cp, bp = u[p], v[p], r[p], counts[p], bias[p]
        for k in range(K):
            _synaptic_counts(W_h[p], sgn, idx, spike_indices(fl, words, idx), cnt)
            for j in range(N):  # branch-free so that LLVM vectorises it; one operation per statement
                uu = up[j] * decay_u
                uu = uu + w * cnt[j]
                vv = vp[j] * decay_v
                vv = vv + uu
                vv = vv + bp[j]
                _fire(j, uu, vv, vth, up, vp, fl)
            _readout(fl, csgn, cp, rp, a_out)
            _finish(p, k, fl, sgn, spk, rec_u, rec_v, rec_s, u, v, recording, k == K - 1)


@njit(inline="always")
def _trunc_decay(x, d):
    """trunc0(x * d / 4096): Lava's sign(x*d) * (|x*d| >> 12)."""
    y = x * d
    return (y + ((y >> 63) & 4095)) >> 12  # y >= 0: y >> 12; y < 0: ceil(y / 4096) = -((-y) >> 12)


@_dispatch
def run_fixed(W_h, n_exc, active, bias, u, v, r, spk, counts, K, decay_u, decay_v, vth, w_mant, w_exp,
              a_out, c_out, rec_u, rec_v, rec_s):
    P, N = u.shape
    if N > MAX_NEURONS:
        raise ValueError("the numpy kernels count synapses in int16: at most 32767 neurons per network")
    recording = rec_u.shape[0] > 0
    umax = 1 << 23
    vmax = (1 << 23) - 1
    sgn = np.where(np.arange(N) < n_exc, 1, -1).astype(np.int32)
    csgn = c_out * sgn
    for p in prange(P):
        if not active[p]:
            continue
        fl, words, idx, cnt = _scratch(N, spk[p], sgn)
        up, vp, rp, cp, bp = u[p], v[p], r[p], counts[p], bias[p]
        for k in range(K):
            _synaptic_counts(W_h[p], sgn, idx, spike_indices(fl, words, idx), cnt)
            for j in range(N):
                a = np.int64(cnt[j]) * w_mant
                a = (a << w_exp) if w_exp >= 0 else (a >> (-w_exp))
                uu = _trunc_decay(up[j], decay_u) + (a << 6)
                uu = (uu - 2 * umax) if uu > umax else uu
                uu = (uu + 2 * umax) if uu <= -umax else uu
                vv = _trunc_decay(vp[j], decay_v) + uu + bp[j]
                vv = min(vmax, max(-vmax, vv))
                _fire(j, uu, vv, vth, up, vp, fl)
            _readout(fl, csgn, cp, rp, a_out)
            _finish(p, k, fl, sgn, spk, rec_u, rec_v, rec_s, u, v, recording, k == K - 1)
