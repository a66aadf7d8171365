"""Loihi-2 fixed point: the one place where float network constants become Lava `fixed_pt` integers.

Arithmetic of Lava 0.10.0 `PyLifModelBitAcc` + `Py{Dense,Sparse}ModelBitAcc`, reproduced by the numpy
backend bit for bit (trunc0 = round toward zero, a_in = the weighted spike sum of the previous step):

    u <- wrap24( trunc0(u * (4096 - (du + 1)) / 4096) + ((a_in >> -w_exp) << 6) )
    v <- clip( trunc0(v * (4096 - dv) / 4096) + u + (bias_mant << bias_exp), ±(2^23 - 1) )
    spike where v > vth << 6, then v <- 0

One unit of v is 1/scale of the float model's threshold unit: a float weight w = (1 - a_V) R maps to
w_mant * 2^(6 + w_exp), so scale = w_mant * 2^(6 + w_exp) / w.  The recurrent weights are all ±w, so a
single even mantissa (MIXED sign mode drops the LSB) carries the E/I sign exactly.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import UserError
from ..spec import NetworkSpec

DECAY_UNITY = 4096


@dataclass(frozen=True)
class LoihiFixed:
    """Integer LIF/synapse parameters for one network; every bit width is validated (Lava checks none)."""

    du: int          # 12-bit, u decays by (4096 - (du + 1)) / 4096
    dv: int          # 12-bit, v decays by (4096 - dv) / 4096
    vth_mant: int    # 17-bit, threshold = vth_mant << 6
    w_mant: int      # 8-bit signed magnitude of every recurrent weight (even: MIXED sign mode drops the LSB)
    w_exp: int       # weight exponent, -8..7
    bias_exp: int    # 3-bit, bias = bias_mant << bias_exp with a 13-bit signed bias_mant
    scale: float     # v units per float threshold unit

    def __post_init__(self) -> None:
        rules = [
            ("du", 0 <= self.du <= 4095, "a 12-bit unsigned integer (0..4095)"),
            ("dv", 0 <= self.dv <= 4095, "a 12-bit unsigned integer (0..4095)"),
            ("vth_mant", 0 <= self.vth_mant <= 2**17 - 1, "a 17-bit unsigned integer (0..131071)"),
            ("w_mant", 2 <= self.w_mant <= 254 and self.w_mant % 2 == 0,
             "an even 8-bit weight mantissa (2..254; MIXED sign mode drops the LSB)"),
            ("w_exp", -8 <= self.w_exp <= 7, "a weight exponent in -8..7"),
            ("bias_exp", 0 <= self.bias_exp <= 7, "a 3-bit unsigned integer (0..7)"),
        ]
        for name, ok, what in rules:
            val = getattr(self, name)
            if not (isinstance(val, (int, np.integer)) and ok):
                raise UserError(f"Loihi-2 parameter {name}={val!r} does not fit: it must be {what}")

    @property
    def decay_u(self) -> int:
        return DECAY_UNITY - (self.du + 1)

    @property
    def decay_v(self) -> int:
        return DECAY_UNITY - self.dv

    @property
    def vth(self) -> int:
        """Effective threshold in v units (vth_mant << 6)."""
        return self.vth_mant << 6

    def check_fan_in(self, n_exc: int, n_inh: int) -> None:
        """The summed synaptic input must fit Lava's 16-bit a_in port."""
        worst = max(n_exc, n_inh) * self.w_mant
        worst = worst << self.w_exp if self.w_exp >= 0 else worst >> -self.w_exp
        if worst >= 2**15:
            raise UserError(f"Loihi-2 synaptic input of up to {worst} exceeds the 16-bit a_in port; "
                            f"lower w_mant ({self.w_mant}) or w_exp ({self.w_exp})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose(spec: NetworkSpec, w_mant: int = 64, w_exp: int = 0, i_in_max: float = 16.0) -> LoihiFixed:
    """Pick integers for `spec`: u never wraps (all E firing every substep stays < 2^23), bias covers |i_in| <= i_in_max."""
    p = spec.neuron
    w_float = (1.0 - p.a_mem) * spec.R
    scale = w_mant * 2.0 ** (6 + w_exp) / w_float
    du = round(DECAY_UNITY * (1.0 - p.a_syn)) - 1
    dv = round(DECAY_UNITY * (1.0 - p.a_mem))
    vth_mant = round(p.v_th * scale / 64.0)
    bias_max = (1.0 - p.a_mem) * i_in_max * scale
    bias_exp = max(0, math.ceil(math.log2(max(bias_max, 1.0) / 4095.0)))
    if bias_exp > 7:
        raise UserError(f"input currents up to {i_in_max} need bias_exp={bias_exp} > 7 at scale {scale:.4g}; "
                        "lower w_mant or i_in_max")
    q = LoihiFixed(du=du, dv=dv, vth_mant=vth_mant, w_mant=w_mant, w_exp=w_exp, bias_exp=bias_exp, scale=scale)
    n_exc = spec.n_exc
    q.check_fan_in(n_exc, spec.n_neurons - n_exc)
    u_worst = n_exc * (w_mant << 6) * DECAY_UNITY / (du + 1)
    if u_worst >= 2**23:
        raise UserError(f"w_mant={w_mant} lets u reach {u_worst:.3g} >= 2^23 with all E neurons firing; lower it")
    return q


def quantize_bias(q: LoihiFixed, bias_float: np.ndarray) -> tuple[np.ndarray, int]:
    """Float bias (threshold units) -> effective integer bias (bias_mant << bias_exp) and the saturated count."""
    mant = np.rint(np.asarray(bias_float, dtype=np.float64) * (q.scale / 2.0**q.bias_exp))
    sat = int(np.count_nonzero(np.abs(mant) > 4095))
    mant = np.clip(mant, -4096, 4095).astype(np.int64)
    return mant << q.bias_exp, sat


def bias_mantissa(q: LoihiFixed, effective_bias: np.ndarray) -> np.ndarray:
    """Effective bias -> the 13-bit mantissa Lava's LIF takes (exact inverse of quantize_bias)."""
    return (np.asarray(effective_bias, dtype=np.int64) >> q.bias_exp).astype(np.int16)


def report(spec: NetworkSpec, q: LoihiFixed) -> dict[str, Any]:
    """What the quantiser chose and the largest relative error of each constant against the float model."""
    p = spec.neuron
    w_float = (1.0 - p.a_mem) * spec.R
    mirror = {
        "a_syn": (q.decay_u / DECAY_UNITY, p.a_syn),
        "a_mem": (q.decay_v / DECAY_UNITY, p.a_mem),
        "v_th": (q.vth / q.scale, p.v_th),
        "w": (q.w_mant * 2.0 ** (6 + q.w_exp) / q.scale, w_float),
        "bias_step": (2.0**q.bias_exp / q.scale, 0.0),
    }
    errors = {k: (abs(a - b) / abs(b) if b else a) for k, (a, b) in mirror.items()}
    return {"chosen": q.to_dict(), "float_mirror": {k: a for k, (a, _) in mirror.items()},
            "relative_error": errors, "max_relative_error": max(v for k, v in errors.items() if k != "bias_step")}
