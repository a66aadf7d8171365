"""Lower a population to one Lava process graph: BiasLIF (P*N) + block-diagonal Sparse + HostBridge.

`plan(lowered)` is pure numpy (no Lava import; picklable, sent to the worker process that owns Lava);
`ec_neuro.backends.lava_graph.build` runs in that worker and instantiates the processes:

    stock:  HostBridge.bias_out -> BiasLIF.bias_in;  BiasLIF.s_out -> Sparse.s_in, HostBridge.s_in;
            Sparse.a_out -> BiasLIF.a_in   (Sparse delivers one timestep later: the model's delay)
    fused:  FusedPopulation, the same arithmetic and host channels in one process (one substep per timestep);
    fused-k: the same process running the K substeps of a control step in one Lava timestep.

Weights W (P*N post, P*N pre) block diagonal, W[post, pre] = sign(pre) * w_mant (fixed, weight_exp = w_exp,
MIXED sign mode, 8 weight bits) or sign(pre) * w (float, dyadic).  LIF constants (du, dv, vth, bias_exp)
come from `ec_neuro.quant` and are validated there; they are set only at construction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sps

from ..errors import UserError
from .quant import bias_mantissa, report
from .common import Lowered

TIERS = ("stock", "fused", "fused-k")


@dataclass
class LavaPlan:
    """Everything the worker needs to build the graph; W: (P*N, P*N) CSR [post, pre]."""

    precision: str
    population: int
    n_neurons: int
    n_exc: int
    substeps: int
    W: sps.csr_matrix
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

    @property
    def sign(self) -> np.ndarray:
        """(P*N,) presynaptic sign: +1 excitatory, -1 inhibitory."""
        one = np.where(np.arange(self.n_neurons) < self.n_exc, 1.0, -1.0)
        return np.tile(one, self.population)


def plan(low: Lowered) -> LavaPlan:
    """Lowered population -> LavaPlan (block-diagonal signed weights, LIF constants of the precision)."""
    P, N = low.population, low.spec.n_neurons
    sign = np.where(np.arange(N) < low.spec.n_exc, 1, -1)
    q = low.fixed
    if q is not None:
        q.check_fan_in(low.spec.n_exc, N - low.spec.n_exc)
        w, dtype = q.w_mant, np.int32
        du, dv, vth, bexp, wexp = q.du, q.dv, q.vth_mant, q.bias_exp, q.w_exp
    else:
        f = low.flt
        w, dtype = f.w, np.float64
        du, dv, vth, bexp, wexp = f.du, f.dv, f.vth, 0, 0
    blocks = [sps.csr_matrix((low.W_h[p].T * (sign[None, :] * w)).astype(dtype)) for p in range(P)]
    W = sps.block_diag(blocks, format="csr", dtype=dtype)
    W.sort_indices()
    return LavaPlan(low.precision, P, N, low.spec.n_exc, low.spec.neuron.substeps, W, du, dv, vth, bexp, wexp,
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
    return dict(W=pl.W, v=np.asarray(v0).reshape(-1), du=pl.du, dv=pl.dv, vth=pl.vth, bias_exp=pl.bias_exp,
                w_exp=pl.w_exp, fixed=pl.precision == "fixed", block=pl.substeps if tier == "fused-k" else 1,
                population=pl.population, n_neurons=pl.n_neurons, sign=pl.sign, substeps=pl.substeps,
                a_out=pl.a_out, c_out=pl.c_out, record=record)
