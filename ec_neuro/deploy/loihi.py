"""Loihi-2 fixed-point bundle: one self-describing .npz (JSON header + integer arrays), nothing a chip does not need.

Header `header` (JSON): format, version, sizes (n_neurons, n_exc, n_obs, n_act), timing (dt ms, substeps K,
control_dt ms), `lif` {du, dv, vth_mant, bias_exp} and `synapse` {w_mant, w_exp, num_weight_bits,
sign_by_group} in Lava `fixed_pt` units (ec_neuro.quant), `input` and `readout` conventions with their float
constants.  Arrays (CSR of the 1-bit masks, int32):
    rec_indptr (N+1,), rec_indices (nnz,)   W_h as rows = postsynaptic neuron, columns = presynaptic
    in_indptr (N+1,), in_indices            W_in, rows = neuron, columns = input channel of [x, -x]
    out_indptr (n_act+1,), out_indices      W_out, rows = action, columns = neuron
    obs_mean, obs_std (n_obs,) float64      observation normaliser
Recurrent weight of a connection pre -> post: sign_by_group[pre] * w_mant, shared exponent w_exp (Lava Sparse,
one-timestep delay).  Input, once per control step (float64, in this order, then held for K timesteps):
    bias_mant[j] = clip(rint(((R_in * sum_k T[k, j] x_k) * dv_float) * (scale / 2^bias_exp)), -4096, 4095)
with T = W_in[:n_obs] - W_in[n_obs:] and x = clip((obs - mean) / std, -5, 5).  Readout on the host, per timestep:
r <- a_out r + c_out s (s = +1 spike of E, -1 of I), action = clip(R_out * W_out^T r, -1, 1) after the K-th.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..compilers import codec
from .. import files as npzio
from ..compilers.common import lower, ternary
from .deployed import Deployed
from ..errors import UserError
from ..compilers.quant import LoihiFixed, choose

FORMAT = "ec-neuro/loihi2-bundle"
VERSION = 1
NUM_WEIGHT_BITS = 8


def _csr(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (rows, cols) -> (indptr (rows+1,), indices) int32."""
    rows, cols = np.nonzero(mask)
    indptr = np.zeros(mask.shape[0] + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=mask.shape[0]), out=indptr[1:])
    return indptr, cols.astype(np.int32)


def _dense(indptr: np.ndarray, indices: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    """CSR -> boolean (rows, cols), validating the arrays."""
    indptr, indices = np.asarray(indptr), np.asarray(indices)
    ok = (indptr.shape == (shape[0] + 1,) and indptr[0] == 0 and np.all(np.diff(indptr) >= 0)
          and indptr[-1] == indices.size and (indices.size == 0 or (indices.min() >= 0 and indices.max() < shape[1])))
    if not ok:
        raise UserError(f"Loihi bundle: connectivity {name} is not a valid CSR of shape {shape}")
    out = np.zeros(shape, bool)
    out[np.repeat(np.arange(shape[0]), np.diff(indptr)), indices] = True
    return out


@dataclass(frozen=True)
class LoihiBundle:
    """A bundle in memory. W_h (N, N) bool [pre, post]; W_in (2*n_obs, N); W_out (N, n_act); q validated."""

    q: LoihiFixed
    n_exc: int
    W_in: np.ndarray
    W_h: np.ndarray
    W_out: np.ndarray
    substeps: int
    dt: float
    control_dt: float
    R_in: float
    dv_float: float
    R_out: float
    a_out: float
    c_out: float
    obs_mean: np.ndarray
    obs_std: np.ndarray
    task: str | None = None

    @property
    def n_neurons(self) -> int:
        return self.W_h.shape[0]

    @property
    def sign(self) -> np.ndarray:
        """+1 for E (the first n_exc), -1 for I: the sign of every outgoing synapse of a neuron."""
        return np.where(np.arange(self.n_neurons) < self.n_exc, 1, -1).astype(np.int64)

    def weights(self) -> np.ndarray:
        """Recurrent weight mantissas (N_post, N_pre) int: sign[pre] * w_mant where connected, for Lava Sparse."""
        return (self.W_h.T * (self.sign * self.q.w_mant)[None, :]).astype(np.int64)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Normalised observations (P, n_obs) -> bias_mant (P, N) int64, exactly as the numpy fixed backend."""
        x = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float64)
        T = ternary(self.W_in[None], self.W_in.shape[0] // 2)[0]
        cur = np.empty((x.shape[0], self.n_neurons))
        codec.input_current(np.ascontiguousarray(np.broadcast_to(T, (x.shape[0],) + T.shape)), x, self.R_in,
                            np.ones(x.shape[0], np.bool_), cur)
        mant = np.rint(cur * self.dv_float * (self.q.scale / 2.0**self.q.bias_exp))
        return np.clip(mant, -4096, 4095).astype(np.int64)

    def initial_v(self, v01: np.ndarray) -> np.ndarray:
        """v ~ U[0, 1) in threshold units -> integer v (as `Lowered.initial_v`)."""
        return np.floor(np.asarray(v01) * self.q.vth).astype(np.int64)


def from_deployed(net: Deployed, q: LoihiFixed | None = None) -> LoihiBundle:
    """Quantise `net` (ec_neuro.quant.choose unless `q` is given) into a bundle."""
    spec = net.spec
    low = lower(spec, net.masks, "fixed", q)
    q = low.fixed or choose(spec)
    q.check_fan_in(spec.n_exc, spec.n_neurons - spec.n_exc)
    p = spec.neuron
    return LoihiBundle(q, spec.n_exc, net.masks.W_in[0].astype(bool), net.masks.W_h[0].astype(bool),
                       net.masks.W_out[0].astype(bool), p.substeps, p.dt, p.control_dt, spec.R_in, low.flt.dv,
                       spec.R_out, low.flt.a_out, low.flt.c_out, np.asarray(net.obs_mean, np.float64),
                       np.asarray(net.obs_std, np.float64), net.task)


def header(b: LoihiBundle) -> dict[str, Any]:
    """The JSON header of a bundle."""
    q = b.q
    n = b.n_neurons
    return {
        "format": FORMAT, "version": VERSION,
        "n_neurons": n, "n_exc": b.n_exc, "n_obs": b.W_in.shape[0] // 2, "n_act": b.W_out.shape[1],
        "dt_ms": b.dt, "substeps": b.substeps, "control_dt_ms": b.control_dt, "task": b.task,
        "lif": {"model": "Lava LIF, fixed_pt (PyLifModelBitAcc)", "du": q.du, "dv": q.dv, "vth_mant": q.vth_mant,
                "bias_exp": q.bias_exp, "u_init": 0, "v_init": "floor(U[0,1) * (vth_mant << 6))"},
        "synapse": {"model": "Lava Sparse, fixed_pt (PySparseModelBitAcc), num_message_bits=0",
                    "w_mant": q.w_mant, "w_exp": q.w_exp, "num_weight_bits": NUM_WEIGHT_BITS,
                    "sign_by_group": {"E": [0, b.n_exc, 1], "I": [b.n_exc, n, -1]}, "delay_timesteps": 1},
        "scale": q.scale,
        "input": {"R_in": b.R_in, "dv_float": b.dv_float, "normalise": "clip((obs - mean) / std, -5, 5)",
                  "bias_mant": "clip(rint(((R_in * sum_k T[k, j] x_k) * dv_float) * (scale / 2**bias_exp)), "
                               "-4096, 4095), T = W_in[:n_obs] - W_in[n_obs:], held for `substeps` timesteps"},
        "readout": {"R_out": b.R_out, "a_out": b.a_out, "c_out": b.c_out,
                    "rule": "r <- a_out * r + c_out * s each timestep; action = clip(R_out * W_out^T r, -1, 1)"},
    }


def write(net: Deployed | LoihiBundle, path: str | Path) -> Path:
    """Write the bundle of `net` to `path` (atomic); every bit width is validated first."""
    b = net if isinstance(net, LoihiBundle) else from_deployed(net)
    validate(b)
    arrays = {}
    for name, mask in (("rec", b.W_h.T), ("in", b.W_in.T), ("out", b.W_out.T)):
        arrays[f"{name}_indptr"], arrays[f"{name}_indices"] = _csr(mask)
    return npzio.write(path, header(b), {"obs_mean": b.obs_mean, "obs_std": b.obs_std, **arrays})


def validate(b: LoihiBundle) -> None:
    """Loihi-2 bit widths (via LoihiFixed) and the 16-bit synaptic input port."""
    LoihiFixed(**b.q.to_dict())
    b.q.check_fan_in(b.n_exc, b.n_neurons - b.n_exc)


def read(path: str | Path) -> LoihiBundle:
    """Read and validate a bundle; a bad file or an out-of-range field is a UserError naming it."""
    path = Path(path)
    h, data = npzio.read(path, "a Loihi bundle", FORMAT)
    try:
        n, n_exc, n_obs, n_act = (int(h[k]) for k in ("n_neurons", "n_exc", "n_obs", "n_act"))
        lif, syn = h["lif"], h["synapse"]
        groups = syn.get("sign_by_group")
        if groups != {"E": [0, n_exc, 1], "I": [n_exc, n, -1]}:
            raise UserError(f"{path}: synapse.sign_by_group={groups} must be E = [0, n_exc, +1], I = [n_exc, N, -1]")
        if syn.get("num_weight_bits", NUM_WEIGHT_BITS) != NUM_WEIGHT_BITS:
            raise UserError(f"{path}: synapse.num_weight_bits={syn['num_weight_bits']}; bundles use {NUM_WEIGHT_BITS}")
        q = LoihiFixed(du=lif["du"], dv=lif["dv"], vth_mant=lif["vth_mant"], w_mant=syn["w_mant"],
                       w_exp=syn["w_exp"], bias_exp=lif["bias_exp"], scale=float(h["scale"]))
        b = LoihiBundle(
            q, n_exc, _dense(data["in_indptr"], data["in_indices"], (n, 2 * n_obs), "in").T,
            _dense(data["rec_indptr"], data["rec_indices"], (n, n), "rec").T,
            _dense(data["out_indptr"], data["out_indices"], (n_act, n), "out").T,
            int(h["substeps"]), float(h["dt_ms"]), float(h["control_dt_ms"]), float(h["input"]["R_in"]),
            float(h["input"]["dv_float"]), float(h["readout"]["R_out"]), float(h["readout"]["a_out"]),
            float(h["readout"]["c_out"]), data["obs_mean"], data["obs_std"], h.get("task"))
    except UserError as e:
        msg = str(e)
        raise UserError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
    except (KeyError, ValueError, TypeError) as e:
        raise UserError(f"{path}: not a Loihi bundle (missing or bad {e})") from None
    try:
        validate(b)
    except UserError as e:
        raise UserError(f"{path}: {e}") from None
    return b
