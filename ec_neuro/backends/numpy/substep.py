"""Per-substep numba kernels of Intel's Lava models (PySparseModelBitAcc + PyLifModelBitAcc, and their float
models), one Lava timestep at a time over a flat population of n = P*N neurons; the fused Lava tier runs them.

    count:      cnt[p*N + post] = sum over spiking pre of sign[pre] * mask[p, pre, post]
    lif_fixed:  u <- wrap24(trunc0(u*decay_u/4096) + (a_in << 6));  v <- clip(trunc0(v*decay_v/4096) + u + bias)
    lif_float:  u <- u*(1-du) + a_in;  v <- v*(1-dv) + u + bias;    spike v > vth, then v <- 0 (both)
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def count(mask, sign, z, cnt):
    """cnt[p*N + post] = sum over spiking pre of sign[pre] * mask[p, pre, post] (rows of spiking neurons only)."""
    P, N, _ = mask.shape
    local = np.zeros(N, np.int64)
    for p in range(P):
        off = p * N
        local[:] = 0
        for pre in range(N):
            if z[off + pre] != 0.0:
                s = sign[pre]
                row = mask[p, pre]
                for post in range(N):
                    local[post] += s * row[post]
        cnt[off:off + N] = local


@njit(inline="always")
def _fire(j, uu, vv, vth, u, v, z):
    """Store neuron j's new u and v; spike if v > vth, then reset v to 0."""
    u[j] = uu
    spike = vv > vth
    z[j] = 1.0 if spike else 0.0
    v[j] = 0 if spike else vv


@njit(cache=True, nogil=True)
def lif_fixed(u, v, a_in, bias, decay_u, decay_v, vth, z):
    """PyLifModelBitAcc: trunc0 decays, a_in << 6, 24-bit wrap of u, clip of v, spike v > vth << 6, reset."""
    umax = 1 << 23
    for j in range(u.shape[0]):
        du = u[j] * decay_u
        du = du >> 12 if du >= 0 else -((-du) >> 12)
        uu = du + (a_in[j] << 6)
        if uu > umax:
            uu -= 2 * umax
        elif uu <= -umax:
            uu += 2 * umax
        dv = v[j] * decay_v
        dv = dv >> 12 if dv >= 0 else -((-dv) >> 12)
        vv = min(max(dv + uu + bias[j], -umax + 1), umax - 1)
        _fire(j, uu, vv, vth, u, v, z)


@njit(cache=True, nogil=True)
def lif_float(u, v, a_in, bias, decay_u, decay_v, vth, z):
    """PyLifModelFloat: u = u*(1-du) + a_in; v = v*(1-dv) + u + bias; spike v > vth; reset."""
    for j in range(u.shape[0]):
        uu = u[j] * decay_u
        uu = uu + a_in[j]
        vv = v[j] * decay_v + uu + bias[j]
        _fire(j, uu, vv, vth, u, v, z)
