"""Lowering shared by every target: masks + spec -> integer/float constants, input encoder, readout decoder.

The canonical semantics are Lava's CUBA-LIF process graph (one-substep delay on every connection).  Each
compiler (numpy, lava, brian2) builds its program from the same `Lowered` object, and every backend calls
the same `encode`/`decode`, so what may differ between backends is only the substep dynamics.

Float precision: du = 1 - a_syn, dv = 1 - a_V, vth = V_th, and every recurrent weight is ±w with
w = (1 - a_V) R rounded to a multiple of 2^-24 (a relative change of 1.86e-6 at the defaults): with such a dyadic weight,
any order of summing at most 2^8 of them is exact, which is what makes Lava's `weights[:, s].sum()`,
Brian2's count-only synapses and the numpy kernel agree bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import codec
from ..sample.masks import Masks
from ..errors import UserError
from .quant import LoihiFixed, choose, quantize_bias
from ..spec import NetworkSpec

PRECISIONS = ("float", "fixed")
DYADIC = 2.0**24


@dataclass(frozen=True)
class FloatConsts:
    """Lava floating_pt LIF constants; decays are applied as (1 - du), (1 - dv), as Lava does."""

    du: float
    dv: float
    vth: float
    w: float
    a_out: float
    c_out: float

    @classmethod
    def of(cls, spec: NetworkSpec) -> "FloatConsts":
        p = spec.neuron
        dv = 1.0 - p.a_mem
        w = round(dv * spec.R * DYADIC) / DYADIC
        return cls(du=1.0 - p.a_syn, dv=dv, vth=p.v_th, w=w, a_out=p.a_out, c_out=(1.0 - p.a_out) / p.dt)


@dataclass
class Lowered:
    """One population lowered for a precision.

    T_in: W_in[:n_obs] - W_in[n_obs:] (the [x, -x] halves folded, in {-1, 0, 1}) as bit planes, see pack_ternary;
    W_h: (P, N, N) uint8 [pre, post]; W_out: (P, N, n_act) uint8.
    """

    spec: NetworkSpec
    precision: str
    T_in: np.ndarray
    W_h: np.ndarray
    W_out: np.ndarray
    flt: FloatConsts
    fixed: LoihiFixed | None
    bias_saturated: int = field(default=0)

    @property
    def population(self) -> int:
        return self.W_h.shape[0]

    def input_current(self, x: np.ndarray) -> np.ndarray:
        """i_in = R_in W_in^T [x, -x]: (P, n_obs) -> (P, N) float64."""
        out = np.empty((self.population, self.spec.n_neurons))
        codec.input_current(self.T_in, np.ascontiguousarray(x, dtype=np.float64), self.spec.R_in, out)
        return out

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Normalised observation (P, n_obs) -> LIF bias (P, N): float64, or int64 (bias_mant << bias_exp)."""
        bias = self.input_current(x) * self.flt.dv
        if self.fixed is None:
            return bias
        ints, sat = quantize_bias(self.fixed, bias)
        self.bias_saturated += sat
        return ints

    def decode(self, r: np.ndarray) -> np.ndarray:
        """Readout rate r (P, N) -> action clip(R_out W_out^T r, -1, 1), (P, n_act) float64."""
        out = np.empty((self.population, self.spec.n_act))
        codec.readout(self.W_out, np.ascontiguousarray(r), self.spec.R_out, out)
        return out

    def initial_v(self, v01: np.ndarray) -> np.ndarray:
        """v ~ U[0, 1) threshold units -> the state of this precision."""
        if self.fixed is None:
            return v01 * self.flt.vth
        return np.floor(v01 * self.fixed.vth).astype(np.int64)


def pack_ternary(T: np.ndarray) -> np.ndarray:
    """(P, K, N) int8 in {-1, 0, 1} -> (P, K, 2, ceil(N/64)) uint64 bit planes (+1, -1), bit j%64 of word j//64."""
    P, K, N = T.shape
    nw = (N + 63) // 64
    out = np.zeros((P, K, 2, nw), np.uint64)
    for plane, val in ((0, 1), (1, -1)):
        bits = np.zeros((P, K, nw * 64), bool)
        bits[..., :N] = T == val
        packed = np.packbits(bits.reshape(P, K, nw, 64), axis=-1, bitorder="little")  # 8 bytes per word
        out[:, :, plane, :] = packed.view("<u8").reshape(P, K, nw)
    return out


def lower(spec: NetworkSpec, masks: Masks, precision: str, fixed: LoihiFixed | None = None) -> Lowered:
    """Masks -> Lowered; `fixed` overrides the quantiser's default choice for precision 'fixed'."""
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    n_obs = spec.n_obs
    want = {"W_in": (spec.d_in, spec.n_neurons), "W_h": (spec.n_neurons,) * 2, "W_out": (spec.n_neurons, spec.n_act)}
    for name, arr in masks.groups().items():
        if arr.shape[1:] != want[name]:
            raise UserError(f"mask {name} has shape {arr.shape[1:]} per member; the network needs {want[name]}")
    W_in = masks.W_in.astype(np.int8)
    T_in = pack_ternary(W_in[:, :n_obs] - W_in[:, n_obs:])
    q = (fixed or choose(spec)) if precision == "fixed" else None
    return Lowered(spec, precision, T_in, np.ascontiguousarray(masks.W_h, dtype=np.uint8),
                   np.ascontiguousarray(masks.W_out, dtype=np.uint8), FloatConsts.of(spec), q)
