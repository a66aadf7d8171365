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
from .quant import LoihiFixed, choose
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

    T_in: (P, n_obs, N) int8 W_in[:n_obs] - W_in[n_obs:] (the [x, -x] halves folded, in {-1, 0, 1});
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

    def _active(self, active: np.ndarray | None) -> np.ndarray:
        if active is None:
            return np.ones(self.population, np.bool_)
        return np.ascontiguousarray(active, dtype=np.bool_)

    def input_current(self, x: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """i_in = R_in W_in^T [x, -x]: (P, n_obs) -> (P, N) float64 (0 for members not `active` (P,) bool)."""
        out = np.empty((self.population, self.spec.n_neurons))
        codec.input_current(self.T_in, np.ascontiguousarray(x, dtype=np.float64), self.spec.R_in,
                            self._active(active), out)
        return out

    def encode(self, x: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Normalised observation (P, n_obs) -> LIF bias (P, N): float64, or int64 (bias_mant << bias_exp).
        Members not `active` (P,) bool (default: all are) get a bias of 0 and count no saturation."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        P, N = self.population, self.spec.n_neurons
        act = self._active(active)
        if self.fixed is None:  # = input_current(x) * dv
            out = np.empty((P, N))
            codec.bias_float(self.T_in, x, self.spec.R_in, self.flt.dv, act, out)
            return out
        q = self.fixed  # = quantize_bias(q, input_current(x) * dv), tests/test_reference.py
        ints, sat = np.empty((P, N), np.int64), np.empty(P, np.int64)
        codec.bias_fixed(self.T_in, x, self.spec.R_in, self.flt.dv, q.scale / 2.0**q.bias_exp, q.bias_exp, act,
                         ints, sat)
        self.bias_saturated += int(sat.sum())
        return ints

    def decode(self, r: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Readout rate r (P, N) -> action clip(R_out W_out^T r, -1, 1), (P, n_act) float64 (0 for members not
        `active`)."""
        out = np.empty((self.population, self.spec.n_act))
        codec.readout(self.W_out, np.ascontiguousarray(r), self.spec.R_out, self._active(active), out)
        return out

    def initial_v(self, v01: np.ndarray) -> np.ndarray:
        """v ~ U[0, 1) threshold units -> the state of this precision."""
        if self.fixed is None:
            return v01 * self.flt.vth
        return np.floor(v01 * self.fixed.vth).astype(np.int64)


def ternary(W_in: np.ndarray, n_obs: int) -> np.ndarray:
    """(P, 2*n_obs, N) 0/1 -> (P, n_obs, N) int8 W_in[:, :n_obs] - W_in[:, n_obs:], the input current's T."""
    W = W_in.view(np.uint8) if W_in.dtype == np.bool_ else W_in.astype(np.uint8, copy=False)
    T = np.empty((W.shape[0], n_obs, W.shape[2]), np.int8)
    np.subtract(W[:, :n_obs], W[:, n_obs:], out=T, casting="unsafe")  # uint8 0 - 1 wraps to 255 = int8 -1
    return T


def lower(spec: NetworkSpec, masks: Masks, precision: str, fixed: LoihiFixed | None = None) -> Lowered:
    """Masks -> Lowered; `fixed` overrides the quantiser's default choice for precision 'fixed'."""
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    n_obs = spec.n_obs
    want = {"W_in": (spec.d_in, spec.n_neurons), "W_h": (spec.n_neurons,) * 2, "W_out": (spec.n_neurons, spec.n_act)}
    for name, arr in masks.groups().items():
        if arr.shape[1:] != want[name]:
            raise UserError(f"mask {name} has shape {arr.shape[1:]} per member; the network needs {want[name]}")
    T_in = ternary(masks.W_in, n_obs)
    q = (fixed or choose(spec)) if precision == "fixed" else None
    return Lowered(spec, precision, T_in, np.ascontiguousarray(masks.W_h, dtype=np.uint8),
                   np.ascontiguousarray(masks.W_out, dtype=np.uint8), FloatConsts.of(spec), q)
