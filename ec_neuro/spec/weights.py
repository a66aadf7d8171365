"""Networks of real weights, the baselines of docs/model.md §3: frozen, validated specs that declare their
parameter layout, so that any weight-space strategy (ES, EGGROLL) trains them.

    dense-rsnn  the reference's DenseSNN (networks/dense_snn.py): EC's LIF dynamics with signed real weights,
                no E/I split, no [x, -x] input doubling, unsigned spikes {0, 1}; W ~ N(0, 1), no biases:
                    i_in = R_in x W_in                                    held for the K substeps of a control step
                    i_syn <- a_syn i_syn + R s W_h;   v <- lerp(v, i_syn + i_in, a_V) = (i_syn + i_in) + a_V (v - ...)
                    s = v > V_th;  v <- 0 where s;    rate <- lerp(rate, s / dt, a_out)
                    action = clip(R_out rate W_out, -1, 1)
                R_in = in_scale V_th tau_V sqrt(2 / n_obs), R = rec_scale V_th (tau_V / tau_syn) sqrt(2 / N),
                R_out = out_scale sqrt(1 / N);  v0 ~ U[0, V_th) per member, the rest 0
    gru         flax nn.GRUCell (hidden 256) + nn.Dense readout, action clipped to [-1, 1] (dense_gru.py):
                r = sig(x W_ir + b_ir + h W_hr);  z = sig(x W_iz + b_iz + h W_hz)
                n = tanh(x W_in + b_in + r (h W_hn + b_hn));  h' = (1 - z) n + z h
    lstm        flax nn.OptimizedLSTMCell (hidden 128) + nn.Dense readout (dense_lstm.py):
                [i f g o] = x W_i + h W_h + b_h;  c' = sig(f) c + sig(i) tanh(g);  h' = sig(o) tanh(c')

The flat parameter vector is the layout's blocks in order, each row-major.  A spec names its population forward
(`forward`, in ec_neuro/networks/), which runs a whole population of members for one control step at a time, and
the reference's strategy settings for it (`strategy_defaults`, conf_experiment/*.yaml and ESConfig).
A new network of real weights (e.g. a classifier) subclasses WeightSpec and declares `layout` and `init_params`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Mapping

import numpy as np

from ..errors import UserError
from .ei import NeuronParams, _check

Layout = tuple[tuple[str, tuple[int, ...]], ...]


class WeightSpec:
    """What a network of real weights declares: kind, layout, init_params, forward; shared checks and I/O."""

    kind: ClassVar[str] = ""
    forward: ClassVar[str] = ""              # "module:Class" of its population forward (ec_neuro/networks/)
    spiking: ClassVar[bool] = False          # whether the forward counts spikes (spike_rate in the metrics)
    strategy_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}   # method -> strategy settings

    @property
    def layout(self) -> Layout:
        raise NotImplementedError

    @property
    def n_params(self) -> int:
        return sum(math.prod(s) for _, s in self.layout)

    def split(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """(..., D) -> {name: (..., *shape)} views, in layout order."""
        out, o = {}, 0
        for name, s in self.layout:
            n = math.prod(s)
            out[name] = flat[..., o:o + n].reshape(*flat.shape[:-1], *s)
            o += n
        return out

    def init_params(self, seed: int) -> np.ndarray:
        raise NotImplementedError

    def _rng(self, seed: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([int(seed), 0x1417]))

    def _check_sizes(self, *names: str) -> None:
        for name in names:
            val = getattr(self, name)
            _check(isinstance(val, int) and not isinstance(val, bool) and val >= 1,
                   f"network.{name}", f"must be a positive integer, got {val!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Any:
        d = dict(d)
        kind = d.pop("kind", cls.kind)
        _check(kind == cls.kind, "network.kind", f"is {kind!r}; this spec describes {cls.kind!r}")
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        extra = set(d) - known
        _check(not extra, "network", f"unknown field(s) {sorted(extra)} for a {cls.kind} network; known: "
                                     f"{sorted(known)}")
        if "neuron" in known:
            neuron = d.pop("neuron", {}) or {}
            nknown = {f.name for f in fields(NeuronParams)}
            _check(isinstance(neuron, Mapping) and not set(neuron) - nknown, "network.neuron",
                   f"unknown field(s) {sorted(set(neuron) - nknown) if isinstance(neuron, Mapping) else neuron}; "
                   f"known: {sorted(nknown)}")
            d["neuron"] = NeuronParams(**neuron)
        try:
            return cls(**d)
        except TypeError as e:
            raise UserError(f"network: {e}") from None


@dataclass(frozen=True)
class DenseRSNNSpec(WeightSpec):
    """The reference's dense RSNN: W_in (n_obs, N), W_h (N, N), W_out (N, n_act), all real and signed."""

    n_obs: int
    n_act: int
    n_neurons: int = 256
    in_scale: float = 0.1    # K_in
    rec_scale: float = 1.0   # K_h
    out_scale: float = 5.0   # K_out
    neuron: NeuronParams = field(default_factory=NeuronParams)

    kind: ClassVar[str] = "dense-rsnn"
    forward: ClassVar[str] = "ec_neuro.networks.dense_rsnn:DenseRSNNPopulation"
    spiking: ClassVar[bool] = True
    strategy_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "es": {"sigma": 0.3, "lr": 0.15},        # conf_experiment/dense_snn_brax.yaml
        "eggroll": {"sigma": 0.3, "lr": 0.15},   # no reference: ES's settings on the same network
    }

    def __post_init__(self) -> None:
        self._check_sizes("n_obs", "n_act", "n_neurons")
        for name in ("in_scale", "rec_scale", "out_scale"):
            val = getattr(self, name)
            _check(isinstance(val, (int, float)) and math.isfinite(val) and val > 0, f"network.{name}",
                   f"must be positive, got {val!r}")
        _check(isinstance(self.neuron, NeuronParams), "network.neuron", "must be a NeuronParams")

    @property
    def layout(self) -> Layout:
        N = self.n_neurons
        return (("W_in", (self.n_obs, N)), ("W_h", (N, N)), ("W_out", (N, self.n_act)))

    @property
    def R_in(self) -> float:
        p = self.neuron
        return self.in_scale * p.v_th * p.tau_mem * math.sqrt(2.0 / self.n_obs)

    @property
    def R(self) -> float:
        p = self.neuron
        return self.rec_scale * p.v_th * (p.tau_mem / p.tau_syn) * math.sqrt(2.0 / self.n_neurons)

    @property
    def R_out(self) -> float:
        return self.out_scale * math.sqrt(1.0 / self.n_neurons)

    def init_params(self, seed: int) -> np.ndarray:
        """nn.initializers.normal(stddev=1.0) for every kernel, as the reference."""
        return self._rng(seed).standard_normal(self.n_params)


def lecun_normal(rng: np.random.Generator, fan_in: int, shape: tuple[int, ...]) -> np.ndarray:
    """flax's lecun_normal: a normal truncated at +-2, std sqrt(1 / fan_in) / 0.8796."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return z * (math.sqrt(1.0 / fan_in) / 0.87962566103423978)


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


@dataclass(frozen=True)
class _RNNSpec(WeightSpec):
    n_obs: int
    n_act: int
    hidden: int = 256

    forward: ClassVar[str] = "ec_neuro.networks.rnn:RNNPopulation"
    gates: ClassVar[int] = 3
    strategy_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "es": {"sigma": 0.02, "lr": 0.01},       # ESConfig defaults (rnn_brax.yaml sets only the sizes)
        "eggroll": {"sigma": 0.02, "lr": 0.01},  # no reference: ES's settings on the same network
    }

    def __post_init__(self) -> None:
        self._check_sizes("n_obs", "n_act", "hidden")

    def init_params(self, seed: int) -> np.ndarray:
        """flax defaults: input kernels and the readout lecun_normal, recurrent kernels orthogonal per gate
        block, biases 0."""
        rng, H = self._rng(seed), self.hidden
        p = {name: np.zeros(s) for name, s in self.layout}
        for g in range(self.gates):
            p["W_i"][:, g * H:(g + 1) * H] = lecun_normal(rng, self.n_obs, (self.n_obs, H))
            p["W_h"][:, g * H:(g + 1) * H] = orthogonal(rng, H)
        p["W_o"] = lecun_normal(rng, H, (H, self.n_act))
        return np.concatenate([p[name].ravel() for name, _ in self.layout])


@dataclass(frozen=True)
class GRUSpec(_RNNSpec):
    """GRU: W_i (n_obs, 3H) [r|z|n], b_i (3H), W_h (H, 3H) [r|z|n], b_hn (H), W_o (H, n_act), b_o (n_act)."""

    hidden: int = 256
    kind: ClassVar[str] = "gru"
    gates: ClassVar[int] = 3

    @property
    def layout(self) -> Layout:
        H, A = self.hidden, self.n_act
        return (("W_i", (self.n_obs, 3 * H)), ("b_i", (3 * H,)), ("W_h", (H, 3 * H)), ("b_hn", (H,)),
                ("W_o", (H, A)), ("b_o", (A,)))


@dataclass(frozen=True)
class LSTMSpec(_RNNSpec):
    """LSTM: W_i (n_obs, 4H) [i|f|g|o], W_h (H, 4H), b_h (4H), W_o (H, n_act), b_o (n_act)."""

    hidden: int = 128
    kind: ClassVar[str] = "lstm"
    gates: ClassVar[int] = 4

    @property
    def layout(self) -> Layout:
        H, A = self.hidden, self.n_act
        return (("W_i", (self.n_obs, 4 * H)), ("W_h", (H, 4 * H)), ("b_h", (4 * H,)), ("W_o", (H, A)),
                ("b_o", (A,)))
