"""Connection probabilities -> sampled 1-bit masks; a member is a pure function of (seed, generation, index, rho).

The strategy sees one flat probability vector rho of length D = sum of the group sizes, in the order
W_in, W_h, W_out (each row-major, (pre, post)).  Nothing but (seed, generation, index) and rho crosses a
process boundary: every worker regenerates the masks it evaluates, whatever the number of workers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from numba import njit

from ..spec import NetworkSpec

MASK_STREAM = 0  # sub-stream of a member's key used for its connection masks
INIT_STREAM = 1  # sub-stream of a member's key used for its initial membrane potentials
_TWO_M32 = 2.0**-32


def member_rng(seed: int, generation: int, index: int, stream: int = 0) -> np.random.Generator:
    """Counter-based generator keyed by (seed, generation, index, stream)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, generation, index, stream])))


def member_bits(seed: int, generation: int, index: int, n: int, stream: int = MASK_STREAM) -> np.ndarray:
    """n uint32 from SFC64 keyed by (seed, generation, index, stream): the halves of ceil(n/2) raw 64-bit
    outputs, low half first (SFC64 random_raw is 4-5x faster than PCG64 float64 uniforms, measured)."""
    bg = np.random.SFC64(np.random.SeedSequence([seed, generation, index, stream]))
    return bg.random_raw((n + 1) // 2).view(np.uint32)[:n]


@njit(cache=True, nogil=True)
def _bernoulli(bits, rho, out):
    """out[d] = bits[d] / 2^32 < rho[d] (exact: the product by 2^-32 rounds nothing); P(1) = ceil(rho 2^32) / 2^32."""
    for d in range(out.shape[0]):
        out[d] = np.float64(bits[d]) * _TWO_M32 < rho[d]


def sample_flat(rho: np.ndarray, seed: int, generation: int, index: int, out: np.ndarray | None = None) -> np.ndarray:
    """theta ~ Bernoulli(rho) for one member, as a bool vector of length D (written into `out` if given).

    The one definition of a member's masks (ask, tell and every worker call it): uniform u = b / 2^32 from
    the member's 32-bit stream `member_bits`, theta_d = u_d < rho_d.
    """
    rho = np.ascontiguousarray(rho, dtype=np.float64)
    if out is None:
        out = np.empty(rho.shape[0], np.bool_)
    _bernoulli(member_bits(seed, generation, index, rho.shape[0]), rho, out)
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

    @staticmethod
    def build(spec: NetworkSpec, keys: list[int], fill: Callable[[int, np.ndarray], object]) -> "Masks":
        """Population masks of members `keys`: fill(key, out) writes a member's flat bool vector into out.

        Each distinct key is filled once (a slot's episodes repeat it) into one reused buffer, then split
        into the groups: no (P, D) temporary and no second copy of the population.
        """
        D = sum(a * b for a, b in spec.group_shapes.values())
        out = {name: np.empty((len(keys), a, b), np.uint8) for name, (a, b) in spec.group_shapes.items()}
        buf = np.empty(D, np.bool_)
        first: dict[int, int] = {}
        for row, key in enumerate(keys):
            if key in first:
                for arr in out.values():
                    arr[row] = arr[first[key]]
                continue
            first[key] = row
            fill(key, buf)
            flat, start = buf.view(np.uint8), 0
            for name, (a, b) in spec.group_shapes.items():
                out[name][row] = flat[start:start + a * b].reshape(a, b)
                start += a * b
        return Masks(**out)

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



def sample(spec: NetworkSpec, rho: np.ndarray, seed: int, generation: int, indices: np.ndarray) -> Masks:
    """Masks of the members `indices` of one generation."""
    if rho.shape[0] != spec.n_connections:
        raise ValueError(f"mask length {rho.shape[0]} does not match the network ({spec.n_connections} connections)")
    rho = np.ascontiguousarray(rho, dtype=np.float64)
    return Masks.build(spec, [int(i) for i in indices], lambda i, out: sample_flat(rho, seed, generation, i, out))


def random_masks(spec: NetworkSpec, population: int, seed: int, p: float = 0.5) -> Masks:
    """A random population (crosscheck and tests): every bit Bernoulli(p)."""
    rho = np.full(spec.n_connections, p)
    return sample(spec, rho, seed, 0, np.arange(population))


def initial_v(n_neurons: int, seed: int, generation: int, indices: np.ndarray) -> np.ndarray:
    """v ~ U[0, 1) threshold units per member, (P, N) float64."""
    return np.stack([member_rng(seed, generation, int(i), INIT_STREAM).random(n_neurons) for i in indices])
