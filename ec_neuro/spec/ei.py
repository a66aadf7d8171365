"""The network description: frozen, validated data named after the equations (docs/model.md §1).

The E/I CUBA-LIF network of Evolving Connectivity ("ConnSNN"): N neurons, the first round(exc_ratio*N)
excitatory, every connection one evolved bit. Per substep, with signed spikes s of the previous substep:

    i_syn <- a_syn * i_syn + R * W_h^T s
    v     <- a_V * v + (1 - a_V) * (V_reset + i_syn + i_in),   z = v > V_th,  v <- V_reset where z
    s      = [+z_E, -z_I]                                       (Dale's law in the presynaptic sign)
    r     <- a_out * r + (1 - a_out) * s / dt                   (signed filtered rate, spikes/ms)

with i_in = R_in * W_in^T [x, -x] held for the K substeps of one control step, and the action
a = clip(R_out * W_out^T r, -1, 1).  In Lava's CUBA-LIF terms (the canonical semantics, see
`ec_neuro.compilers.common`): u = (1 - a_V) i_syn, du = 1 - a_syn, dv = 1 - a_V, a synaptic weight of
±(1 - a_V) R, bias = (1 - a_V) i_in, and a one-substep delay on every connection.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from ..errors import UserError
from .. import validate


MAX_SUBSTEPS = 100_000  # substeps per control step (K); the default is 33

IN_GAINS = ("reference", "doubled")


def _check(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise UserError(f"{where}: {what}")


@dataclass(frozen=True)
class NeuronParams:
    """LIF constants in milliseconds and units of the threshold (model.md §1 defaults)."""

    dt: float = 0.5          # substep (ms)
    control_dt: float = 16.6  # network time per control (env) step (ms); K = round(control_dt / dt)
    tau_syn: float = 5.0
    tau_mem: float = 10.0
    tau_out: float = 10.0
    v_th: float = 1.0
    v_reset: float = 0.0

    def __post_init__(self) -> None:
        for name in ("dt", "control_dt", "tau_syn", "tau_mem", "tau_out"):
            val = getattr(self, name)
            _check(validate._is_number(val) and math.isfinite(val) and val > 0,
                   f"network.neuron.{name}", f"must be a positive number of milliseconds, got {val!r}")
        _check(self.control_dt >= self.dt, "network.neuron.control_dt",
               f"must be at least one substep (dt={self.dt}), got {self.control_dt}")
        _check(self.control_dt / self.dt <= MAX_SUBSTEPS, "network.neuron.control_dt",
               f"/ dt = {self.control_dt / self.dt:.3g} substeps per control step; at most {MAX_SUBSTEPS} "
               f"(the default is 16.6 / 0.5 = 33): raise dt or lower control_dt")
        _check(validate._is_number(self.v_reset) and self.v_reset == 0.0, "network.neuron.v_reset",
               f"must be 0: Loihi 2's CUBA-LIF (the canonical semantics) resets to 0, got {self.v_reset!r}")
        _check(validate._is_number(self.v_th) and math.isfinite(self.v_th) and self.v_th > self.v_reset,
               "network.neuron.v_th", f"must be a finite number above v_reset={self.v_reset}, got {self.v_th!r}")

    @property
    def substeps(self) -> int:
        """K: substeps per control step."""
        return max(1, round(self.control_dt / self.dt))

    @property
    def a_syn(self) -> float:
        return math.exp(-self.dt / self.tau_syn)

    @property
    def a_mem(self) -> float:
        return math.exp(-self.dt / self.tau_mem)

    @property
    def a_out(self) -> float:
        return math.exp(-self.dt / self.tau_out)


@dataclass(frozen=True)
class NetworkSpec:
    """Shape and gains of one E/I RSNN; the evolved groups are W_in (2*n_obs, N), W_h (N, N), W_out (N, n_act)."""

    n_obs: int
    n_act: int
    n_neurons: int = 256
    exc_ratio: float = 0.5
    in_scale: float = 0.1    # R_in = in_scale * V_th * tau_mem * sqrt(2 / (0.5 * gain_width))
    in_gain: str = "reference"  # gain_width = n_obs as the reference code ("reference"), or 2*n_obs ("doubled")
    rec_scale: float = 1.0   # R = rec_scale * V_th * (tau_mem / tau_syn) * sqrt(2 / (0.5 * N))
    out_scale: float = 5.0   # R_out = out_scale * sqrt(1 / (0.5 * N))
    neuron: NeuronParams = field(default_factory=NeuronParams)

    kind: ClassVar[str] = "ei-rsnn"

    def __post_init__(self) -> None:
        for name in ("n_obs", "n_act", "n_neurons"):
            val = getattr(self, name)
            _check(isinstance(val, int) and not isinstance(val, bool) and val >= 1,
                   f"network.{name}", f"must be a positive integer, got {val!r}")
        _check(validate._is_number(self.exc_ratio) and 0.0 < self.exc_ratio < 1.0, "network.exc_ratio",
               f"must lie strictly between 0 and 1, got {self.exc_ratio!r}")
        _check(1 <= self.n_exc < self.n_neurons, "network.exc_ratio",
               f"gives {self.n_exc} excitatory of {self.n_neurons} neurons; both E and I must be non-empty")
        _check(self.in_gain in IN_GAINS, "network.in_gain",
               f"must be one of {', '.join(IN_GAINS)}, got {self.in_gain!r}")
        for name in ("in_scale", "rec_scale", "out_scale"):
            val = getattr(self, name)
            _check(validate._is_number(val) and math.isfinite(val) and val > 0, f"network.{name}",
                   f"must be a positive finite number, got {val!r}")
        _check(isinstance(self.neuron, NeuronParams), "network.neuron", "must be a NeuronParams")

    @property
    def n_exc(self) -> int:
        return round(self.exc_ratio * self.n_neurons)

    @property
    def d_in(self) -> int:
        """Input width: observations fed as [x, -x]."""
        return 2 * self.n_obs

    @property
    def gain_width(self) -> int:
        """The input width R_in is normalised by: n_obs, as the reference reads it before [x, -x] ("reference"),
        or the doubled width 2*n_obs that ec-neuro used before (in_gain="doubled", 1/sqrt(2) of the drive)."""
        return self.n_obs if self.in_gain == "reference" else self.d_in

    @property
    def R_in(self) -> float:
        p = self.neuron
        return self.in_scale * p.v_th * p.tau_mem * math.sqrt(2.0 / (0.5 * self.gain_width))

    @property
    def R(self) -> float:
        p = self.neuron
        return self.rec_scale * p.v_th * (p.tau_mem / p.tau_syn) * math.sqrt(2.0 / (0.5 * self.n_neurons))

    @property
    def R_out(self) -> float:
        return self.out_scale * math.sqrt(1.0 / (0.5 * self.n_neurons))

    @property
    def group_shapes(self) -> dict[str, tuple[int, int]]:
        """The evolved 1-bit connection groups, (pre, post) each."""
        n = self.n_neurons
        return {"W_in": (self.d_in, n), "W_h": (n, n), "W_out": (n, self.n_act)}

    @property
    def n_connections(self) -> int:
        return sum(a * b for a, b in self.group_shapes.values())

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "NetworkSpec":
        d = dict(d)
        kind = d.pop("kind", cls.kind)
        _check(kind == cls.kind, "network.kind", f"is {kind!r}; this spec describes {cls.kind!r}")
        neuron = d.pop("neuron", {}) or {}
        _check(isinstance(neuron, dict), "network.neuron",
               f"must be a table of settings (e.g. --set network.neuron.tau_mem=20), got {neuron!r}")
        known = {f.name for f in fields(cls)}
        extra = set(d) - known
        _check(not extra, "network", f"unknown field(s) {sorted(extra)}; known: {sorted(known)}")
        nknown = {f.name for f in fields(NeuronParams)}
        nextra = set(neuron) - nknown
        _check(not nextra, "network.neuron", f"unknown field(s) {sorted(nextra)}; known: {sorted(nknown)}")
        return cls(neuron=NeuronParams(**neuron), **d)
