"""Connection probabilities -> sampled 1-bit masks; a member is a pure function of (seed, generation, index, rho).

The strategy sees one flat probability vector rho of length D = sum of the group sizes, in the order
W_in, W_h, W_out (each row-major, (pre, post)).  Nothing but (seed, generation, index) and rho crosses a
process boundary: every worker regenerates the masks it evaluates, whatever the number of workers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..compilers.codec import dispatch
from ..spec import NetworkSpec

MASK_STREAM = 0  # sub-stream of a member's key used for its connection masks
INIT_STREAM = 1  # sub-stream of a member's key used for its initial membrane potentials

# Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the
# Random123 constants), the counter-based generator of cuRAND and Random123: word q of block b of a member's
# stream is Philox(counter (b, 0, 0, 0), key)[q].  tests/test_strategy.py checks the Random123 answers.
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_LO, _S32 = np.uint64(0xFFFFFFFF), np.uint64(32)
_ROUNDS = 10
_CHUNK = 1024  # blocks per pass: 4 x 1024 words of scratch stay in L1
_TWO_M32 = 2.0**-32


def member_rng(seed: int, generation: int, index: int, stream: int = 0) -> np.random.Generator:
    """Counter-based generator keyed by (seed, generation, index, stream)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, generation, index, stream])))


def member_key(seed: int, generation: int, index: int) -> np.ndarray:
    """A member's Philox round keys, (2, 10) uint64 holding 32-bit words: the key (2 words from
    SeedSequence([seed, generation, index, MASK_STREAM])) and its 9 Weyl bumps, key + r * (W0, W1) mod 2^32."""
    return member_keys(seed, generation, [index])[0]


@njit(inline="always")
def _philox(c0, c1, c2, c3, ks):
    """Philox4x32 over `ks`'s rounds; 32-bit words held in uint64 (the products are exact)."""
    for r in range(_ROUNDS):
        p0 = _M0 * (c0 & _LO)  # the mask tells LLVM the words are 32-bit: vpmuludq, not vpmullq
        p1 = _M1 * (c2 & _LO)
        c0, c1, c2, c3 = (p1 >> _S32) ^ c1 ^ ks[0, r], p1 & _LO, (p0 >> _S32) ^ c3 ^ ks[1, r], p0 & _LO
    return c0, c1, c2, c3


@njit(cache=True, nogil=True)
def philox4x32(ctr, ks):
    """One Philox4x32-10 block: counter (4,) and round keys (2, 10) -> (4,) uint64 words (for the tests)."""
    w = _philox(np.uint64(ctr[0]), np.uint64(ctr[1]), np.uint64(ctr[2]), np.uint64(ctr[3]), ks)
    return np.array([w[0], w[1], w[2], w[3]], np.uint64)


@njit(cache=True, nogil=True)
def _sample_blocks(ks, rho, b0, b1, out, w):
    """theta_d = u_d < rho_d with u_d = word / 2^32 (exact), for the connections of Philox blocks b0..b1-1:
    word q of block b is connection d = q*NB + b, NB = ceil(D/4).  w: (4, >= b1-b0) uint32 scratch.
    The one definition of a member's masks: sample_flat, the population sampler and tell all call it."""
    D = rho.shape[0]
    NB = (D + 3) // 4
    z = np.uint64(0)
    n = b1 - b0
    for i in range(n):
        w0, w1, w2, w3 = _philox(np.uint64(b0 + i), z, z, z, ks)
        w[0, i] = w0
        w[1, i] = w1
        w[2, i] = w2
        w[3, i] = w3
    for q in range(4):
        lo = q * NB + b0
        hi = min(q * NB + b1, D)
        wq = w[q]
        for d in range(lo, hi):
            out[d] = np.float64(wq[d - lo]) * _TWO_M32 < rho[d]


@njit(cache=True, nogil=True)
def _sample_member(ks, rho, out):
    """Every connection of one member (chunks of _CHUNK blocks)."""
    NB = (rho.shape[0] + 3) // 4
    w = np.empty((4, _CHUNK), np.uint32)
    for b0 in range(0, NB, _CHUNK):
        _sample_blocks(ks, rho, b0, min(b0 + _CHUNK, NB), out, w)


def sample_flat(rho: np.ndarray, seed: int, generation: int, index: int, out: np.ndarray | None = None) -> np.ndarray:
    """theta ~ Bernoulli(rho) for one member, as a bool vector of length D (written into `out` if given).

    theta_d = u_d < rho_d, u_d a 32-bit uniform of the member's Philox stream (`_sample_blocks`), so
    P(theta_d = 1) = ceil(rho_d 2^32) / 2^32.
    """
    rho = np.ascontiguousarray(rho, dtype=np.float64)
    if out is None:
        out = np.empty(rho.shape[0], np.bool_)
    _sample_member(member_key(seed, generation, index), rho, out)
    return out


def deterministic_flat(rho: np.ndarray) -> np.ndarray:
    """The deployed network: theta = (rho > 0.5)."""
    return rho > 0.5


@dataclass(frozen=True)
class Masks:
    """A population of sampled networks as bytes (0/1), never floats.

    W_in: (P, 2*n_obs, N), W_h: (P, N, N), W_out: (P, N, n_act); each (member, pre, post).
    """

    W_in: np.ndarray
    W_h: np.ndarray
    W_out: np.ndarray

    @property
    def population(self) -> int:
        return self.W_h.shape[0]

    def groups(self) -> dict[str, np.ndarray]:
        return {"W_in": self.W_in, "W_h": self.W_h, "W_out": self.W_out}

    def take(self, rows: np.ndarray | list[int]) -> "Masks":
        """Members `rows` of this population (copies, contiguous)."""
        return Masks(*(np.ascontiguousarray(g[np.asarray(rows, dtype=np.intp)]) for g in self.groups().values()))

    @staticmethod
    def stack(spec: NetworkSpec, flats: list[np.ndarray]) -> "Masks":
        """Flat bool vectors (one per member) -> population masks."""
        arr = np.stack([np.asarray(f, dtype=np.uint8) for f in flats])
        out, start = {}, 0
        for name, (a, b) in spec.group_shapes.items():
            out[name] = arr[:, start:start + a * b].reshape(len(flats), a, b)
            start += a * b
        if start != arr.shape[1]:
            raise ValueError(f"mask length {arr.shape[1]} does not match the network ({start} connections)")
        return Masks(**{k: np.ascontiguousarray(v) for k, v in out.items()})



def member_keys(seed: int, generation: int, indices: np.ndarray | list[int]) -> np.ndarray:
    """(M, 2, 10) Philox round keys of members `indices`, as member_key gives them."""
    k = np.array([np.random.SeedSequence([seed, generation, int(i), MASK_STREAM]).generate_state(2, np.uint32)
                  for i in indices], np.uint64).reshape(-1, 2)
    bumps = np.arange(_ROUNDS, dtype=np.uint64)[None, :] * np.array([_W0, _W1], np.uint64)[:, None]  # (2, 10)
    return (k[:, :, None] + bumps[None]) & _LO


# Parallel kernels pay for waking numba's threads (up to ~8 ms on a loaded machine, compilers/codec.py);
# below this many connection draws (members x D) the serial copy runs.
_PARALLEL_MIN_DRAWS = 1 << 22


def _run(kernel, draws: int, *args) -> None:
    import numba
    (kernel.parallel if draws >= _PARALLEL_MIN_DRAWS and numba.get_num_threads() > 1 else kernel.serial)(*args)


@dispatch
def _sample_population(keys, rho, W_in, W_h, W_out):
    """Member m's masks (keys[m]) into W_in[m], W_h[m], W_out[m]: the flat vector W_in | W_h | W_out."""
    D = rho.shape[0]
    a = W_in.shape[1] * W_in.shape[2]
    b = W_h.shape[1] * W_h.shape[2]
    c = W_out.shape[1] * W_out.shape[2]
    for m in prange(keys.shape[0]):
        buf = np.empty(D, np.bool_)
        _sample_member(keys[m], rho, buf)
        fi, fh, fo = W_in[m].reshape(a), W_h[m].reshape(b), W_out[m].reshape(c)
        for d in range(a):
            fi[d] = buf[d]
        for d in range(b):
            fh[d] = buf[a + d]
        for d in range(c):
            fo[d] = buf[a + b + d]


def sample(spec: NetworkSpec, rho: np.ndarray, seed: int, generation: int, indices: np.ndarray | list[int]) -> Masks:
    """Masks of the members `indices` of one generation (sample_flat's, split into the groups), members in
    parallel (numba threads); a repeated index is sampled once."""
    if rho.shape[0] != spec.n_connections:
        raise ValueError(f"mask length {rho.shape[0]} does not match the network ({spec.n_connections} connections)")
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    uniq, rows = np.unique(idx, return_inverse=True)
    out = {name: np.empty((len(uniq), a, b), np.uint8) for name, (a, b) in spec.group_shapes.items()}
    _run(_sample_population, len(uniq) * rho.shape[0], member_keys(seed, generation, uniq),
         np.ascontiguousarray(rho, dtype=np.float64), out["W_in"], out["W_h"], out["W_out"])
    masks = Masks(**out)
    return masks if np.array_equal(uniq, idx) else masks.take(rows)


@dispatch
def _accumulate(keys, weights, rho, acc):
    """acc[d] += weights[m] * theta_m[d] for m ascending (a select: weight or 0.0, the same sum), every d;
    blocks of connections in parallel, so the sums are the same whatever the number of threads."""
    D = rho.shape[0]
    NB = (D + 3) // 4
    for c in prange((NB + _CHUNK - 1) // _CHUNK):
        b0 = c * _CHUNK
        b1 = min(b0 + _CHUNK, NB)
        w = np.empty((4, _CHUNK), np.uint32)
        theta = np.empty(D, np.bool_)  # only this chunk's connections are written and read
        for m in range(keys.shape[0]):
            _sample_blocks(keys[m], rho, b0, b1, theta, w)
            wm = weights[m]
            for q in range(4):
                lo, hi = q * NB + b0, min(q * NB + b1, D)
                a, t = acc[lo:hi], theta[lo:hi]
                for j in range(hi - lo):
                    a[j] += wm if t[j] else 0.0


def accumulate(rho: np.ndarray, seed: int, generation: int, indices: np.ndarray | list[int],
               weights: np.ndarray) -> np.ndarray:
    """sum_i weights[i] * theta_indices[i] (D,) float64, summed in the order given: equal bit for bit to
    looping `acc += w * sample_flat(rho, seed, generation, i)`, without materialising any member."""
    acc = np.zeros(rho.shape[0])
    _run(_accumulate, len(indices) * rho.shape[0], member_keys(seed, generation, indices),
         np.ascontiguousarray(weights, dtype=np.float64), np.ascontiguousarray(rho, dtype=np.float64), acc)
    return acc


def random_masks(spec: NetworkSpec, population: int, seed: int, p: float = 0.5) -> Masks:
    """A random population (crosscheck and tests): every bit Bernoulli(p)."""
    rho = np.full(spec.n_connections, p)
    return sample(spec, rho, seed, 0, np.arange(population))


def initial_v(n_neurons: int, seed: int, generation: int, indices: np.ndarray) -> np.ndarray:
    """v ~ U[0, 1) threshold units per member, (P, N) float64."""
    return np.stack([member_rng(seed, generation, int(i), INIT_STREAM).random(n_neurons) for i in indices])
