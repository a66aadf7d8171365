"""Dense layers y = x W for a population whose members hold W in one of three forms, numba, prange over tiles of
members; float32, each member's sums in a fixed order that depends only on the member (never on which other
members share the call), so results do not depend on how members are split between workers.

    full_dense(x, W, active, out)                      W (P, m, n): every member's own matrix
    pair_dense(x, Wc, E, groups, coef, active, out)    ES: W_p = Wc + coef_p E[q]; a pair's two members in one
                                                       tile, so each row of the pair's noise E[q] is read once
    low_rank_dense(x, Wc, A, Bt, pair, coef, active, out)   EGGROLL: x W_p = x Wc + coef_p (x A[q]) Bt[q]; tiles of
                                                       TILE members share each row of Wc read from memory
x (P, m) float32, out (P, n) float32 (rows of inactive members left 0).  Reading memory is what these layers cost
(a 2-row product per pair is memory-bound), hence the tiles.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

KER = dict(parallel=True, cache=True, nogil=True, fastmath=False)
TILE = 4  # members per tile of low_rank_dense (written as the literal 4 in the kernel)


@njit(**KER)
def full_dense(x, W, active, out):
    P, m = x.shape
    n = out.shape[1]
    for p in prange(P):
        out[p, :] = 0
        if not active[p]:
            continue
        acc = out[p]
        for o in range(m):
            xo = x[p, o]
            row = W[p, o]
            for j in range(n):
                acc[j] += xo * row[j]


@njit(**KER)
def pair_dense(x, Wc, E, groups, coef, active, out):
    """groups (G, 3): [row of member +, row of member -, row of the pair in E] (-1: absent); coef (P,) float32
    +-sigma (0: the center)."""
    m = x.shape[1]
    n = out.shape[1]
    for g in prange(groups.shape[0]):
        p0, p1 = groups[g, 0], groups[g, 1]
        a0 = p0 >= 0 and active[p0]
        a1 = p1 >= 0 and active[p1]
        if p0 >= 0:
            out[p0, :] = 0
        if p1 >= 0:
            out[p1, :] = 0
        if not (a0 or a1):
            continue
        q = groups[g, 2]
        c0 = coef[p0] if a0 else np.float32(0.0)
        c1 = coef[p1] if a1 else np.float32(0.0)
        Eq = E[q]
        for o in range(m):
            wr = Wc[o]
            er = Eq[o]
            if a0:
                x0 = x[p0, o]
                o0 = out[p0]
                for j in range(n):
                    o0[j] += x0 * (wr[j] + c0 * er[j])
            if a1:
                x1 = x[p1, o]
                o1 = out[p1]
                for j in range(n):
                    o1[j] += x1 * (wr[j] + c1 * er[j])


@njit(**KER)
def low_rank_dense(x, Wc, A, Bt, pair, coef, active, out):
    P, m = x.shape
    n = out.shape[1]
    r = A.shape[2]
    n_tiles = (P + 3) // 4
    for tile in prange(n_tiles):
        lo = tile * 4
        hi = min(P, lo + 4)
        xa = np.zeros((4, r), np.float32)
        for p in range(lo, hi):
            out[p, :] = 0
        for o in range(m):
            wr = Wc[o]
            for p in range(lo, hi):
                if not active[p]:
                    continue
                xo = x[p, o]
                op = out[p]
                for j in range(n):
                    op[j] += xo * wr[j]
                Ar = A[pair[p], o]
                for t in range(r):
                    xa[p - lo, t] += xo * Ar[t]
        for p in range(lo, hi):
            if not active[p]:
                continue
            cp = coef[p]
            op = out[p]
            Bq = Bt[pair[p]]
            for t in range(r):
                w = cp * xa[p - lo, t]
                for j in range(n):
                    op[j] += w * Bq[t, j]


def pair_groups(pair: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """(G, 3) int64 [member +, member -, pair row] for every pair present; a center member (coef 0) or a member
    whose partner is absent gets a group of its own."""
    groups: dict[int, list[int]] = {}
    rows = []
    for p, (q, c) in enumerate(zip(pair, coef)):
        if c == 0.0:
            rows.append([p, -1, 0])
            continue
        g = groups.setdefault(int(q), [-1, -1, int(q)])
        g[0 if c > 0 else 1] = p
    rows.extend(groups.values())
    return np.array(rows, np.int64).reshape(-1, 3)
