"""Lower a population to one Lava process graph: BiasLIF (P*N) + block-diagonal Sparse + HostBridge.

`plan(lowered)` is pure numpy (no Lava import; picklable, sent to the worker process that owns Lava);
`ec_neuro.backends.lava_graph.build` runs in that worker and instantiates the processes:

    stock:  HostBridge.bias_out -> BiasLIF.bias_in;  BiasLIF.s_out -> Sparse.s_in, HostBridge.s_in;
            Sparse.a_out -> BiasLIF.a_in   (Sparse delivers one timestep later: the model's delay)
    fused:  FusedPopulation, the same arithmetic and host channels in one process (one substep per timestep);
    fused-k: the same process running the K substeps of a control step in one Lava timestep.

Weights W (P*N post, P*N pre) block diagonal, W[post, pre] = sign(pre) * w_mant (fixed, weight_exp = w_exp,
MIXED sign mode, 8 weight bits) or sign(pre) * w (float, dyadic).  LIF constants (du, dv, vth, bias_exp)
come from `ec_neuro.quant` and are validated there; they are set only at construction (stock) or with each
`load` of a live fused graph.  The plan carries the 0/1 mask W_h (P, N pre, N post) and the magnitude w; the CSR
W is built only when a stock graph asks for it (the fused tiers never need it: building it took 0.06-0.3 s per
population of 64 x 256 and pickled to 17 MB).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sps

from ..errors import UserError
from .quant import bias_mantissa, report
from .common import Lowered

TIERS = ("fused-k", "fused", "stock")  # the default first (LavaSimBackend's signature, registry's choices)


@dataclass
class LavaPlan:
    """Everything the worker needs to build the graph: W_h (P, N, N) uint8 0/1 [member, pre, post], the weight
    magnitude w (w_mant or the float w), the LIF and readout constants; `W` the block-diagonal CSR."""

    precision: str
    population: int
    n_neurons: int
    n_exc: int
    substeps: int
    W_h: np.ndarray
    w: float
    du: float
    dv: float
    vth: float
    bias_exp: int
    w_exp: int
    a_out: float
    c_out: float

    @property
    def size(self) -> int:
        return self.population * self.n_neurons

    @functools.cached_property
    def W(self) -> sps.csr_matrix:
        """(P*N post, P*N pre) block diagonal, member p's block W_h[p].T * sign(pre) * w (int32 or float64)."""
        return block_weights(self.W_h, self.n_exc, self.w, self.precision)

    def members(self, index: np.ndarray) -> "LavaPlan":
        """The plan of a sub-population (members `index`, in that order)."""
        return replace(self, population=len(index), W_h=np.ascontiguousarray(self.W_h[np.asarray(index)]))

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("W", None)  # rebuilt on demand where it is used (the worker), never pickled
        return d

    @property
    def sign(self) -> np.ndarray:
        """(P*N,) presynaptic sign: +1 excitatory, -1 inhibitory."""
        one = np.where(np.arange(self.n_neurons) < self.n_exc, 1.0, -1.0)
        return np.tile(one, self.population)


def block_weights(W_h: np.ndarray, n_exc: int, w: float, precision: str) -> sps.csr_matrix:
    """The Sparse weights of a population: (P*N post, P*N pre) CSR, block diagonal, member p's block
    W_h[p].T * sign(pre) * w; int32 (fixed, w = w_mant) or float64."""
    P, N = W_h.shape[0], W_h.shape[1]
    sign = np.where(np.arange(N) < n_exc, 1, -1)
    dtype = np.int32 if precision == "fixed" else np.float64
    w = int(w) if precision == "fixed" else float(w)
    blocks = [sps.csr_matrix((W_h[p].T * (sign[None, :] * w)).astype(dtype)) for p in range(P)]
    W = sps.block_diag(blocks, format="csr", dtype=dtype)
    W.sort_indices()
    return W


def plan(low: Lowered) -> LavaPlan:
    """Lowered population -> LavaPlan (block-diagonal signed weights, LIF constants of the precision)."""
    P, N = low.population, low.spec.n_neurons
    q = low.fixed
    if q is not None:
        q.check_fan_in(low.spec.n_exc, N - low.spec.n_exc)
        w: float = q.w_mant
        du, dv, vth, bexp, wexp = q.du, q.dv, q.vth_mant, q.bias_exp, q.w_exp
    else:
        f = low.flt
        w = f.w
        du, dv, vth, bexp, wexp = f.du, f.dv, f.vth, 0, 0
    mask = np.ascontiguousarray(low.W_h, dtype=np.uint8)  # 0/1 already (lower); no copy
    return LavaPlan(low.precision, P, N, low.spec.n_exc, low.spec.neuron.substeps, mask, w, du, dv, vth, bexp, wexp,
                    low.flt.a_out, low.flt.c_out)


def host_bias(low: Lowered, bias: np.ndarray) -> np.ndarray:
    """encode() output (P, N) -> what the LIF takes as bias_mant, flat (P*N,) float64."""
    if low.fixed is not None:
        bias = bias_mantissa(low.fixed, bias)
    return np.asarray(bias, dtype=np.float64).reshape(-1)


def check_tier(tier: str) -> str:
    if tier not in TIERS:
        raise UserError(f"unknown lava-sim tier {tier!r}; choose one of {', '.join(TIERS)}")
    return tier


def summary(low: Lowered) -> str:
    """Printable account of the chosen Loihi-2 integers (quant.report) or the float constants."""
    if low.fixed is None:
        f = low.flt
        return f"lava-sim floating_pt: du={f.du:.6g} dv={f.dv:.6g} vth={f.vth:g} w={f.w!r} (dyadic)"
    rep = report(low.spec, low.fixed)
    chosen = " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in rep["chosen"].items())
    errs = " ".join(f"{k}={v:.2e}" for k, v in rep["relative_error"].items())
    return (f"lava-sim fixed_pt: {chosen} weight_exp={low.fixed.w_exp} sign_mode=MIXED num_weight_bits=8\n"
            f"  relative error vs float model: {errs}; largest {rep['max_relative_error']:.2e}")


def fused_params(pl: LavaPlan, v0: np.ndarray, tier: str, record: bool) -> dict[str, Any]:
    """The parameters of the fused tiers' FusedPopulation (and of its Lava-free core, `FusedCore`)."""
    return dict(mask=pl.W_h, w=pl.w, n_exc=pl.n_exc, v=np.asarray(v0).reshape(-1), du=pl.du, dv=pl.dv, vth=pl.vth, bias_exp=pl.bias_exp,
                w_exp=pl.w_exp, fixed=pl.precision == "fixed", block=pl.substeps if tier == "fused-k" else 1,
                population=pl.population, n_neurons=pl.n_neurons, sign=pl.sign, substeps=pl.substeps,
                a_out=pl.a_out, c_out=pl.c_out, record=record)
