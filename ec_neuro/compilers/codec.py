"""The host-side codec shared by every backend: the input encoder and the readout decoder (numba kernels).

    input_current: i_in[p, j] = R_in * sum_k T[p, k, j] * x[p, k]     T = W_in[:n_obs] - W_in[n_obs:] in {-1, 0, 1} (int8)
    readout:       a[p, a]   = clip(R_out * sum_j W_out[p, j, a] * r[p, j], -1, 1)

They run once per control step on the host, whatever backend runs the substeps, which is what makes closed
loop identical across backends.  `dispatch` compiles a kernel serial and parallel and picks by population size;
the numpy backend's substep kernels use it too.
"""
from __future__ import annotations

import types
from typing import Any, Callable

import numba
import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

PAR = dict(parallel=True, cache=True, nogil=True, fastmath=False)
SER = dict(parallel=False, cache=True, nogil=True, fastmath=False)
# Below this many members the parallel kernels cost more than they save: waking numba's threads takes up
# to ~8 ms per call on a loaded 2-core machine (measured by the Brian2 work, docs/bench/brian2.md).
PARALLEL_MIN_MEMBERS = 128


def dispatch(fn: Callable[..., None]) -> Callable[..., None]:
    """Compile `fn` serial and parallel (identical arithmetic); pick by population size and thread count.

    The serial copy gets its own name: numba's on-disk cache is keyed by qualified name and line, so two
    dispatchers of one function would load each other's machine code (the parallel one ran serial).
    """
    serial = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__, fn.__closure__)
    serial.__qualname__ = fn.__qualname__ + "_serial"
    par, ser = njit(**PAR)(fn), njit(**SER)(serial)

    def call(*args: Any) -> None:
        big = args[0].shape[0] >= PARALLEL_MIN_MEMBERS and numba.get_num_threads() > 1
        (par if big else ser)(*args)

    call.__doc__, call.__name__ = fn.__doc__, fn.__name__
    call.parallel, call.serial = par, ser  # type: ignore[attr-defined]
    return call


@njit(inline="always")
def spike_indices(fl, words, idx):
    """Indices of the flagged neurons, ascending, into idx; returns their number.  fl: 0/1 flags (uint8, padded to
    a multiple of 8), words: the same bytes as uint64 (little-endian: byte b of word w is neuron 8w + b).  A silent
    word costs one test; a flagged byte is found by a trailing-zero count and cleared, so a substep with m spikes
    costs N/8 tests + m steps, without the mispredicted per-byte branches of a byte loop (2x faster at 2.5 % spikes:
    scripts/kernel-steps.py --scan)."""
    m = 0
    for w in range(words.shape[0]):
        x = words[w]
        while x != 0:
            b = trailing_zeros(x) >> 3
            idx[m] = 8 * w + b
            m += 1
            x &= ~(np.uint64(0xFF) << np.uint64(8 * b))
    return m


@njit(inline="always")
def _current_sum(T, x, p, acc):
    """acc[j] = sum_k T[p, k, j] * x[p, k], one float64 accumulator per neuron updated in k order.

    The result does not depend on how the loop is vectorised (across neurons j) or unrolled (two k per
    pass: acc = (acc + a_k) + a_{k+1}, the same two roundings as two passes).  T * x is formed as a select
    (x, -x or 0.0: exactly T * x for finite x; adding 0.0 leaves an accumulator unchanged, as it never holds
    -0.0).  The select is branch-free, so LLVM turns it into AVX-512 masked moves over 8 neurons: 2-2.5x
    faster than the bit-plane kernel it replaced (scripts/ecperf_compare.py), for 4x more bytes per member
    (89 KB at Humanoid sizes).
    """
    K, N = T.shape[1], T.shape[2]
    K2 = K - K % 2
    acc[:] = 0.0
    for k in range(0, K2, 2):
        x0 = x[p, k]
        n0 = -x0
        x1 = x[p, k + 1]
        n1 = -x1
        r0 = T[p, k]
        r1 = T[p, k + 1]
        for j in range(N):
            t0 = r0[j]
            t1 = r1[j]
            a0 = x0 if t0 > 0 else (n0 if t0 < 0 else 0.0)
            a1 = x1 if t1 > 0 else (n1 if t1 < 0 else 0.0)
            acc[j] = (acc[j] + a0) + a1
    for k in range(K2, K):
        xk = x[p, k]
        nk = -xk
        row = T[p, k]
        for j in range(N):
            t = row[j]
            acc[j] += xk if t > 0 else (nk if t < 0 else 0.0)


@dispatch
def input_current(T, x, gain, active, out):
    """out[p, j] = gain * sum_k T[p, k, j] * x[p, k], k ascending, T (P, K, N) int8 in {-1, 0, 1}; rows of
    members not `active` are 0."""
    P, N = out.shape
    for p in prange(P):
        if not active[p]:
            out[p, :] = 0.0
            continue
        acc = np.empty(N, np.float64)
        _current_sum(T, x, p, acc)
        for j in range(N):
            out[p, j] = gain * acc[j]


@dispatch
def bias_float(T, x, gain, dv, active, out):
    """The float LIF bias, out[p, j] = (gain * sum_k T[p, k, j] x[p, k]) * dv: input_current and the multiply
    by dv of Lowered.encode in one pass (the same two roundings); rows of members not `active` are 0."""
    P, N = out.shape
    for p in prange(P):
        if not active[p]:
            out[p, :] = 0.0
            continue
        acc = np.empty(N, np.float64)
        _current_sum(T, x, p, acc)
        for j in range(N):
            out[p, j] = (gain * acc[j]) * dv


@dispatch
def bias_fixed(T, x, gain, dv, factor, bias_exp, active, out, saturated):
    """The fixed-point bias, quant.quantize_bias((gain * sum_k T x) * dv) in one pass: mant = rint(b * factor)
    (factor = scale / 2^bias_exp), saturated[p] = #|mant| > 4095, out = clip(mant, -4096, 4095) << bias_exp
    as int64 (NaN -> INT64_MIN before the shift, as numpy's cast gives on x86); rows of members not `active`
    are 0 and count no saturation."""
    P, N = out.shape
    for p in prange(P):
        if not active[p]:
            out[p, :] = 0
            saturated[p] = 0
            continue
        acc = np.empty(N, np.float64)
        _current_sum(T, x, p, acc)
        sat = 0
        for j in range(N):
            m = np.rint(((gain * acc[j]) * dv) * factor)
            sat += 1 if abs(m) > 4095.0 else 0
            if m != m:
                q = np.int64(-9223372036854775808)
            else:
                q = np.int64(min(max(m, -4096.0), 4095.0))
            out[p, j] = q << bias_exp
        saturated[p] = sat


@dispatch
def readout(W_out, r, gain, active, out):
    """out[p, a] = clip(gain * sum_j W_out[p, j, a] * r[p, j], -1, 1), j ascending; rows of members not
    `active` are 0."""
    P, N, A = W_out.shape
    for p in prange(P):
        if not active[p]:
            out[p, :] = 0.0
            continue
        acc = np.zeros(A)
        for j in range(N):
            rj = r[p, j]
            row = W_out[p, j]
            for a in range(A):
                acc[a] += rj if row[a] else 0.0
        for a in range(A):
            y = gain * acc[a]
            out[p, a] = min(1.0, max(-1.0, y))
