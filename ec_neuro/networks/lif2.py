"""Population forward of the two-layer LIF classifier (spec/classifier.py) on a mini-batch of event frames.

    classify(spec, pop, slots, frames) -> logits (S, B, n_classes) float64, spikes (S,) float64

the contract with host/classify.py: every slot sees the same frames (B, T, n_obs) float32 (common random
numbers); slot k < pop.size is member k, k >= pop.size the deterministic center (host/rollout.py's convention);
`spikes` is each slot's total of hidden spikes over the batch and the time bins.

How the members are evaluated (float32, a whole chunk of members per call):
    base  = X W1c                         ONE GEMM over the T B rows, shared by every member and chunk
    EGGROLL  member = center + coef A B^T (coef = +-sigma / sqrt(r), members.low_rank):
             XA = X [A_1 ... A_K]         one GEMM (T B, n_obs) x (n_obs, K r) for the chunk's K pairs
             x W1_p = base + coef_p (XA_pair) B_pair^T     the rank-r product fused into the LIF kernel
    ES       member = center + coef eps (coef = +-sigma): per pair N_k = X eps_k^W1 (a GEMM per pair, the noise of
             a pair drawn once, used by both of its members and dropped), x W1_p = base + coef_p N_pair
    the rest, per member (numba, prange over members): the hidden LIF over the T bins; W2_p = center + coef E2 is
    materialised (H x n_classes).  "membrane": the readout is linear in the spikes, so the kernel only sums
    z = sum_t wt_t s_t (H,) per sample and logits = z W2_p + b2_p sum_t wt_t (one product per sample, after);
    "counts": the spikes' rows of W2_p drive the output LIF bin by bin.
Chunks of members bound memory to about CHUNK_BYTES whatever the population; a member's arithmetic depends only
on itself, so chunking (and which slots share a call) never changes a result.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from ..errors import UserError
from ..strategies.eggroll import EGGROLLPopulation
from ..strategies.es import ESPopulation
from . import members as M

CHUNK_BYTES = 128 << 20


@njit(parallel=True, cache=True, nogil=True, fastmath=False)
def _lif2(base, lowrank, N, XA, Bt, pair, coef, b1, W2, b2, beta, counts, out_gain, wt, z, logits, spikes):
    """base (T, B, H) = X W1c; N (K, T, B, H) ES noise currents or XA (T, B, K, r) and Bt (K, r, H) EGGROLL
    factors; pair (P,), coef (P,) float32 (0: the center); b1 (P, H), W2 (P, H, C), b2 (P, C) the members' own.
    "counts": writes logits (P, B, C).  "membrane": the readout is linear in the spikes, so
        mean_t u_t = sum_tau wt_tau (s_tau W2 + b2),   wt_tau = (1/T) sum_{t >= tau} beta^(t - tau)
    and the kernel writes z = sum_tau wt_tau s_tau (P, B, H) for one product z W2 per sample afterwards.
    spikes (P,) float64: hidden spikes over the batch and the bins."""
    T, B, H = base.shape
    P, C = b2.shape
    r = XA.shape[3]
    bt = np.float32(beta)
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for p in prange(P):
        k = pair[p]
        c = coef[p]
        v = np.empty(H, np.float32)
        cur = np.empty(H, np.float32)
        spk = np.empty(H, np.bool_)
        u = np.empty(C, np.float64)
        acc = np.empty(C, np.float64)
        i2 = np.empty(C, np.float64)
        b1p = b1[p]
        W2p = W2[p]
        n_spk = 0
        for b in range(B):
            v[:] = 0
            u[:] = 0
            acc[:] = 0
            zb = z[p, b]
            if not counts:
                zb[:] = 0
            for t in range(T):
                bs = base[t, b]
                for h in range(H):
                    cur[h] = bs[h] + b1p[h]
                if c != 0:
                    if lowrank:
                        for j in range(r):
                            w = c * XA[t, b, k, j]
                            Bj = Bt[k, j]
                            for h in range(H):
                                cur[h] += w * Bj[h]
                    else:
                        Nk = N[k, t, b]
                        for h in range(H):
                            cur[h] += c * Nk[h]
                w_t = wt[t]
                for h in range(H):             # vectorised: no branch, an integer count
                    vh = bt * v[h] + cur[h]
                    sp = vh > one
                    spk[h] = sp
                    v[h] = vh - one if sp else vh
                    n_spk += sp
                if not counts:
                    for h in range(H):
                        zb[h] += w_t if spk[h] else zero
                    continue
                for o in range(C):
                    i2[o] = b2[p, o]
                for h in range(H):             # the spikes' rows of W2 (sparse)
                    if spk[h]:
                        for o in range(C):
                            i2[o] += W2p[h, o]
                for o in range(C):
                    uo = beta * u[o] + i2[o]
                    if uo > 1.0:
                        uo -= 1.0
                        acc[o] += 1.0
                    u[o] = uo
            if counts:
                for o in range(C):
                    logits[p, b, o] = acc[o] * out_gain
        spikes[p] = n_spk


def readout_weights(beta: float, T: int) -> np.ndarray:
    """wt (T,) float32: mean_t u_t = sum_tau wt_tau (s_tau W2 + b2) for u_t = beta u_(t-1) + s_t W2 + b2, u_(-1) = 0."""
    return np.array([sum(beta ** (t - tau) for t in range(tau, T)) / T for tau in range(T)], np.float32)


def _frames(spec: Any, frames: Any) -> np.ndarray:
    x = np.asarray(frames)
    if x.ndim != 3 or x.shape[2] != spec.n_obs or not x.shape[0] or not x.shape[1]:
        raise UserError(f"network {spec.kind!r}: frames must be (batch, time bins, {spec.n_obs}), got shape "
                        f"{x.shape}", "network.n_obs")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise UserError(f"network {spec.kind!r}: frames hold NaN or infinite values")
    if spec.in_gain != 1.0:
        x = x * np.float32(spec.in_gain)
    return x


def _per_member_bytes(spec: Any, pop: Any, T: int, B: int) -> int:
    H, C, D = spec.hidden, spec.n_act, spec.n_obs
    if isinstance(pop, EGGROLLPopulation):
        r = pop.rank
        pair = 4 * (T * B * r + 3 * D * r + (H + C) * r)
    else:
        pair = 4 * (T * B * H + H + H * C + C)
    return pair // 2 + 8 * (H * C + H + C) + 8 * B * C


def chunk_size(spec: Any, pop: Any, n_slots: int, T: int, B: int) -> int:
    """Members per call of the kernel: about CHUNK_BYTES of working set, even (a pair's two members together)."""
    n = max(2, CHUNK_BYTES // max(1, _per_member_bytes(spec, pop, T, B)))
    return int(min(n_slots, n - n % 2)) or 1


def classify(spec: Any, pop: Any, slots: Any, frames: Any, chunk: int | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Logits (len(slots), B, n_classes) float64 and total hidden spikes (len(slots),) float64 of the slots of
    `pop` (an ESPopulation or EGGROLLPopulation) on frames (B, T, n_obs); `chunk` members per kernel call."""
    X3 = _frames(spec, frames)
    idx = np.asarray(slots, np.int64).reshape(-1)
    if (idx < 0).any():
        raise UserError(f"slots must be >= 0, got {idx[idx < 0][:3].tolist()}")
    if not isinstance(pop, (ESPopulation, EGGROLLPopulation)):
        raise UserError(f"network {spec.kind!r} is trained by ES or EGGROLL, not by {type(pop).__name__}")
    if pop.center.shape[0] != spec.n_params:
        raise UserError(f"the population has {pop.center.shape[0]} parameters; the {spec.kind} spec has "
                        f"{spec.n_params}")
    B, T, D = X3.shape
    H, C = spec.hidden, spec.n_act
    X = np.ascontiguousarray(X3.transpose(1, 0, 2)).reshape(T * B, D)          # time-major rows
    cb = M.center_blocks(pop, spec.layout)
    base = (X @ cb["W1"]).reshape(T, B, H)                                      # shared by the whole population
    S = len(idx)
    logits = np.zeros((S, B, C), np.float64)
    spikes = np.zeros(S, np.float64)
    if not S:
        return logits, spikes
    n = chunk or chunk_size(spec, pop, S, T, B)
    counts = spec.readout == "counts"
    wt = readout_weights(spec.beta, T)
    z = np.zeros((n, B, 1 if counts else H), np.float32)  # counts: never written
    for a in range(0, S, n):
        sl = slice(a, min(S, a + n))
        args = (_eggroll_chunk if isinstance(pop, EGGROLLPopulation) else _es_chunk)(spec, pop, idx[sl], X, cb, T, B)
        zc = z if counts else z[:sl.stop - a]
        _lif2(base, *args, np.float64(spec.beta), counts, np.float64(spec.out_gain), wt, zc, logits[sl], spikes[sl])
        if not counts:  # the membrane readout: one (B, H) x (H, C) product per member
            W2, b2 = args[7], args[8]
            logits[sl] = np.matmul(zc, W2) + b2[:, None, :].astype(np.float64) * float(wt.sum(dtype=np.float64))
    return logits, spikes


def _eggroll_chunk(spec: Any, pop: EGGROLLPopulation, idx: np.ndarray, X: np.ndarray, cb: dict, T: int, B: int
                   ) -> tuple:
    lr = M.low_rank(pop, spec.layout, idx)
    A1, Bt1 = lr.A["W1"], lr.Bt["W1"]                                           # (K, D, r), (K, r, H)
    K, D, r = A1.shape
    XA = (X @ np.ascontiguousarray(A1.transpose(1, 0, 2)).reshape(D, K * r)).reshape(T, B, K, r)
    E2 = np.matmul(lr.A["W2"][lr.pair].astype(np.float64), lr.Bt["W2"][lr.pair].astype(np.float64))  # (P, H, C)
    W2 = (cb["W2"].astype(np.float64)[None] + lr.coef[:, None, None] * E2).astype(np.float32)
    dummy = np.zeros((1, 1, 1, 1), np.float32)
    return (True, dummy, XA, Bt1, lr.pair, lr.coef.astype(np.float32), lr.vectors["b1"], W2, lr.vectors["b2"])


def _es_chunk(spec: Any, pop: ESPopulation, idx: np.ndarray, X: np.ndarray, cb: dict, T: int, B: int) -> tuple:
    keys, row = M._pairs_of(pop, idx)
    H = spec.hidden
    off = M._offsets(spec.layout)
    K = max(len(keys), 1)
    N = np.zeros((K, T, B, H), np.float32)
    small = {name: np.zeros((K, *s), np.float32) for name, s in spec.layout if name != "W1"}
    lo, hi = off["W1"]
    for q, k in enumerate(keys):            # a pair's noise drawn once, used by its two members, then dropped
        eps = pop.noise(int(k))
        np.dot(X, eps[lo:hi].reshape(spec.n_obs, H), out=N[q].reshape(T * B, H))
        for name in small:
            a, b = off[name]
            small[name][q].reshape(-1)[:] = eps[a:b]
    coef = M.coefs(pop, idx, pop.sigma)

    def member(name: str) -> np.ndarray:    # as members.PairMembers.vector: float64 center + coef eps, then float32
        e = small[name][row].astype(np.float64)
        return (cb[name].astype(np.float64)[None] + coef.reshape(-1, *[1] * (e.ndim - 1)) * e).astype(np.float32)

    XA = np.zeros((1, 1, 1, 1), np.float32)
    Bt = np.zeros((1, 1, 1), np.float32)
    return (False, N, XA, Bt, row, coef.astype(np.float32), member("b1"), member("W2"), member("b2"))


def neg_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(S, B, C), (B,) -> (S,) float64: minus the mean softmax cross-entropy of each slot (its fitness)."""
    z = logits - logits.max(-1, keepdims=True)
    lse = np.log(np.exp(z).sum(-1))
    ce = lse - np.take_along_axis(z, np.asarray(labels, np.int64)[None, :, None], -1)[..., 0]
    return -ce.mean(-1)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(S, B, C), (B,) -> (S,) fraction of samples whose largest logit is the label."""
    return (logits.argmax(-1) == np.asarray(labels)[None]).mean(-1)


class ControlForward:
    """host/weights.py's control-loop forward: this network classifies mini-batches of frames and has none."""

    def __init__(self, spec: Any, pop: Any, indices: Any) -> None:
        raise UserError(f"network {spec.kind!r} is a classifier of event frames: train it on a classification "
                        f"task (e.g. digits-events, nmnist), not on a control task", "network")


def spike_rate(spec: Any, spikes: np.ndarray, T: int, B: int) -> np.ndarray:
    """Hidden spikes per neuron per time bin per sample."""
    return np.asarray(spikes, np.float64) / (max(1, T) * max(1, B) * spec.hidden)


