"""The host-side codec shared by every backend: the input encoder and the readout decoder (numba kernels).

    input_current: i_in[p, j] = R_in * sum_k T[p, k, j] * x[p, k]     T = W_in[:n_obs] - W_in[n_obs:] in {-1, 0, 1}
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



@dispatch
def input_current(T_bits, x, gain, out):
    """out[p, j] = gain * sum_k T[p, k, j] * x[p, k], k ascending, T in {-1, 0, 1} packed as bit planes.

    T_bits: (P, K, 2, ceil(N/64)) uint64, plane 0 = (T == +1), plane 1 = (T == -1), bit j%64 of word j//64
    (see compilers.common.pack_ternary): 4x fewer bytes than int8, which is what bounds this kernel.
    """
    P, K, _, NW = T_bits.shape
    N = out.shape[1]
    for p in prange(P):
        acc = np.zeros(NW * 64, np.float64)
        for k in range(K):
            xk = x[p, k]
            if xk != 0.0:
                for w in range(NW):
                    pos = T_bits[p, k, 0, w]
                    neg = T_bits[p, k, 1, w]
                    if (pos | neg) == 0:
                        continue
                    for b in range(64):
                        t = np.int64((pos >> np.uint64(b)) & np.uint64(1)) - np.int64((neg >> np.uint64(b)) & np.uint64(1))
                        acc[w * 64 + b] += t * xk
        for j in range(N):
            out[p, j] = gain * acc[j]


@dispatch
def readout(W_out, r, gain, out):
    """out[p, a] = clip(gain * sum_j W_out[p, j, a] * r[p, j], -1, 1), j ascending."""
    P, N, A = W_out.shape
    for p in prange(P):
        acc = np.zeros(A)
        for j in range(N):
            rj = r[p, j]
            row = W_out[p, j]
            for a in range(A):
                acc[a] += rj if row[a] else 0.0
        for a in range(A):
            y = gain * acc[a]
            out[p, a] = min(1.0, max(-1.0, y))
