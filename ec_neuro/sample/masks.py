"""Connection probabilities -> sampled 1-bit masks; a member is a pure function of (seed, generation, index, rho).

The strategy sees one flat probability vector rho of length D = sum of the group sizes, in the order
W_in, W_h, W_out (each row-major, (pre, post)).  Nothing but (seed, generation, index) and rho crosses a
process boundary: every worker regenerates the masks it evaluates, whatever the number of workers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import NetworkSpec

INIT_STREAM = 1  # sub-stream of a member's key used for its initial membrane potentials


def member_rng(seed: int, generation: int, index: int, stream: int = 0) -> np.random.Generator:
    """Counter-based generator keyed by (seed, generation, index, stream)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, generation, index, stream])))


def sample_flat(rho: np.ndarray, seed: int, generation: int, index: int) -> np.ndarray:
    """theta ~ Bernoulli(rho) for one member, as a bool vector of length D."""
    return member_rng(seed, generation, index).random(rho.shape[0]) < rho


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
    return Masks.stack(spec, [sample_flat(rho, seed, generation, int(i)) for i in indices])


def random_masks(spec: NetworkSpec, population: int, seed: int, p: float = 0.5) -> Masks:
    """A random population (crosscheck and tests): every bit Bernoulli(p)."""
    rho = np.full(spec.n_connections, p)
    return sample(spec, rho, seed, 0, np.arange(population))


def initial_v(n_neurons: int, seed: int, generation: int, indices: np.ndarray) -> np.ndarray:
    """v ~ U[0, 1) threshold units per member, (P, N) float64."""
    return np.stack([member_rng(seed, generation, int(i), INIT_STREAM).random(n_neurons) for i in indices])
